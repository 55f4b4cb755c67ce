"""Alert rule specs and their evaluation against a monitoring snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Kind = Literal[
    "drawdown",
    "daily_loss",
    "limit_breach",
    "near_breach",
    "rejected_orders",
    "broker_disconnect",
    "reconciliation_mismatch",
    "model_metric_below",
    "regime_change",
    "stale_data",
    "heartbeat_lost",
    "latency",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
Severity = Literal["info", "warning", "critical"]
NEEDS_THRESHOLD = {
    "drawdown": "fraction, e.g. 0.10 for a 10% drawdown",
    "daily_loss": "fraction of start-of-day equity, e.g. 0.02",
    "near_breach": "utilization fraction, e.g. 0.8",
    "rejected_orders": "count per cycle, e.g. 1",
    "model_metric_below": "metric value, e.g. 0.52 for AUC",
    "stale_data": "seconds since the last bar, e.g. 86400",
    "heartbeat_lost": "seconds since the last heartbeat, e.g. 60",
    "latency": "milliseconds, e.g. 500",
}


class ChannelSpec(BaseModel):
    """A named channel: an apprise URL (mailto://, slack://, tgram://, json://...) or in-app."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: str = Field(min_length=1)
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _valid(cls, value: str) -> str:
        if value == "in-app":
            return value
        import apprise

        if not apprise.Apprise().add(value):
            raise ValueError(
                f"{mask_url_text(value)} is not a notification URL apprise understands; "
                "examples: mailto://user:pass@host, slack://T/B/C, tgram://bot/chat, "
                "json://host:port/path"
            )
        return value


def mask_url_text(url: str) -> str:
    """Hide credentials and tokens in a channel URL for display and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host = rest.split("@")[-1].split("/")[0]
    return f"{scheme}://…@{host}/…" if ("@" in rest or "/" in rest) else f"{scheme}://{host}"


class AlertRuleSpec(BaseModel):
    """One rule: what to watch, its threshold, where to send, severity and cooldown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Kind
    threshold: float | None = None
    metric: str | None = Field(default=None, description="model metric name for that kind")
    channels: list[str] = Field(default_factory=lambda: ["in-app"])
    severity: Severity = "warning"
    cooldown_s: int = Field(default=900, ge=0, le=7 * 86400)
    enabled: bool = True

    @model_validator(mode="after")
    def _threshold(self) -> AlertRuleSpec:
        if self.kind in NEEDS_THRESHOLD and self.threshold is None:
            raise ValueError(
                f"threshold: a {self.kind} rule needs a threshold ({NEEDS_THRESHOLD[self.kind]})"
            )
        if self.threshold is not None and self.threshold < 0:
            raise ValueError("threshold: must be >= 0")
        if self.kind == "model_metric_below" and not self.metric:
            raise ValueError("metric: name the model metric to watch, e.g. roc_auc")
        if not self.channels:
            raise ValueError("channels: pick at least one channel (in-app is always available)")
        return self


class Snapshot(BaseModel):
    """What the monitor knows at one moment; every field optional."""

    model_config = ConfigDict(frozen=True)

    ts: datetime
    drawdown: float | None = None
    daily_loss: float | None = None
    utilization: dict[str, float] = Field(default_factory=dict)
    rejected_orders: int = 0
    broker_connected: bool = True
    reconciliation_differences: int = 0
    model_metrics: dict[str, float] = Field(default_factory=dict)
    regime: str | None = None
    previous_regime: str | None = None
    last_bar_ts: datetime | None = None
    heartbeat_ts: datetime | None = None
    latency_ms: float | None = None


@dataclass(frozen=True)
class Firing:
    """A rule that fired, with its message and deduplication key."""

    rule: AlertRuleSpec
    message: str
    dedupe_key: str
    value: float | str | None


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else (now - then).total_seconds()


def evaluate_rules(rules: list[AlertRuleSpec], snap: Snapshot) -> list[Firing]:
    """Every enabled rule that fires on ``snap``, in rule order."""
    fired: list[Firing] = []
    for rule in rules:
        if not rule.enabled:
            continue
        t = rule.threshold
        hit: tuple[str, str, float | str | None] | None = None
        if rule.kind == "drawdown" and snap.drawdown is not None and snap.drawdown >= t:
            hit = (f"drawdown {snap.drawdown:.1%} >= {t:.1%}", "", snap.drawdown)
        elif rule.kind == "daily_loss" and snap.daily_loss is not None and snap.daily_loss >= t:
            hit = (f"daily loss {snap.daily_loss:.1%} >= {t:.1%}", "", snap.daily_loss)
        elif rule.kind == "limit_breach":
            over = {k: v for k, v in snap.utilization.items() if v > 1.0}
            if over:
                names = ", ".join(f"{k} {v:.0%}" for k, v in sorted(over.items()))
                hit = (f"risk limit breached: {names}", ",".join(sorted(over)), max(over.values()))
        elif rule.kind == "near_breach":
            near = {k: v for k, v in snap.utilization.items() if t <= v <= 1.0}
            if near:
                names = ", ".join(f"{k} {v:.0%}" for k, v in sorted(near.items()))
                hit = (
                    f"near a risk limit (>= {t:.0%}): {names}",
                    ",".join(sorted(near)),
                    max(near.values()),
                )
        elif rule.kind == "rejected_orders" and snap.rejected_orders >= max(t or 1, 1):
            hit = (f"{snap.rejected_orders} order(s) rejected", "", snap.rejected_orders)
        elif rule.kind == "broker_disconnect" and not snap.broker_connected:
            hit = ("broker disconnected", "", None)
        elif rule.kind == "reconciliation_mismatch" and snap.reconciliation_differences > 0:
            hit = (
                f"{snap.reconciliation_differences} reconciliation difference(s) with the broker",
                "",
                snap.reconciliation_differences,
            )
        elif rule.kind == "model_metric_below":
            value = snap.model_metrics.get(rule.metric or "")
            if value is not None and value < t:
                hit = (f"model {rule.metric} {value:.3f} < {t:.3f}", rule.metric or "", value)
        elif rule.kind == "regime_change":
            if snap.regime and snap.previous_regime and snap.regime != snap.previous_regime:
                hit = (
                    f"regime changed {snap.previous_regime} -> {snap.regime}",
                    f"{snap.previous_regime}->{snap.regime}",
                    snap.regime,
                )
        elif rule.kind == "stale_data":
            age = _age(snap.ts, snap.last_bar_ts)
            if age is not None and age >= t:
                hit = (f"data is stale: last bar {age:.0f} s ago", "", age)
        elif rule.kind == "heartbeat_lost":
            age = _age(snap.ts, snap.heartbeat_ts)
            if age is None or age >= t:
                hit = (
                    "worker heartbeat lost" + ("" if age is None else f" ({age:.0f} s)"),
                    "",
                    age,
                )
        elif rule.kind == "latency" and snap.latency_ms is not None and snap.latency_ms >= t:
            hit = (f"decision latency {snap.latency_ms:.0f} ms >= {t:.0f} ms", "", snap.latency_ms)
        if hit is not None:
            message, detail, value = hit
            fired.append(
                Firing(
                    rule,
                    f"[{rule.severity}] {rule.name}: {message}",
                    f"{rule.name}:{rule.kind}:{detail}",
                    value,
                )
            )
    return fired
