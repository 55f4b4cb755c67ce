"""Alert rule specs and their evaluation against a monitoring snapshot."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from core.alerts.masking import mask_url_text, redacted_logs

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
# Kinds recorded in the history that are not rule kinds.
EVENT_KINDS: tuple[str, ...] = ("test",)
# Metrics bounded to [0, 1], so a model_metric_below threshold outside it is a typo.
UNIT_INTERVAL_METRICS = frozenset(
    {"roc_auc", "auc", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "hit_rate"}
)


@dataclass(frozen=True)
class ThresholdUnit:
    """The unit and valid range of one rule kind's threshold."""

    unit: str
    low: float
    high: float
    example: str
    low_open: bool = False
    integer: bool = False

    @property
    def is_fraction(self) -> bool:
        """Whether the threshold is a fraction in (0, 1] (not a percentage)."""
        return self.low == 0 and self.high == 1

    def range_text(self) -> str:
        """The valid range, e.g. ``(0, 1]`` or ``1 to 86,400``."""
        if self.is_fraction:
            return "(0, 1]"
        return f"{self.low:,g} to {self.high:,g}"

    def describe(self) -> str:
        """Unit, range and example, as the form and the errors show them."""
        return f"{self.unit}, {self.range_text()}, e.g. {self.example}"

    def problem(self, kind: str, value: float) -> str | None:
        """Why ``value`` is not a valid threshold for ``kind``, or None."""
        too_low = value <= self.low if self.low_open else value < self.low
        wrong = not math.isfinite(value) or too_low or value > self.high
        if not wrong and self.integer and value != int(value):
            return f"a {kind} threshold is a whole number ({self.unit}); got {value:g}"
        if not wrong:
            return None
        hint = ""
        if self.is_fraction and 1 < value <= 100:
            hint = f"; for {value:g}% enter {value / 100:g}"
        return (
            f"a {kind} threshold is a {self.unit} in {self.range_text()} "
            f"(e.g. {self.example}); {value:g} is out of range{hint}"
        )


THRESHOLDS: dict[str, ThresholdUnit] = {
    "drawdown": ThresholdUnit(
        "fraction of peak equity", 0, 1, "0.10 for a 10% drawdown", low_open=True
    ),
    "daily_loss": ThresholdUnit(
        "fraction of start-of-day equity", 0, 1, "0.02 for a 2% loss", low_open=True
    ),
    "near_breach": ThresholdUnit(
        "fraction of a limit in use", 0, 1, "0.8 for 80% of the limit", low_open=True
    ),
    "rejected_orders": ThresholdUnit(
        "count of orders rejected in one cycle", 1, 10_000, "1", integer=True
    ),
    "model_metric_below": ThresholdUnit(
        "metric value", -1e6, 1e6, "0.52 for roc_auc (metrics such as AUC lie in [0, 1])"
    ),
    "stale_data": ThresholdUnit("seconds since the last bar", 1, 30 * 86_400, "86400 (a day)"),
    "heartbeat_lost": ThresholdUnit("seconds since the last heartbeat", 1, 86_400, "60"),
    "latency": ThresholdUnit("milliseconds of decision latency", 1, 600_000, "500"),
}
# Kept for callers that only need the text: kind -> "unit, range, e.g. ...".
NEEDS_THRESHOLD: dict[str, str] = {kind: unit.describe() for kind, unit in THRESHOLDS.items()}


class ChannelSpec(BaseModel):
    """A named channel: an apprise URL (mailto://, slack://, tgram://, json://...) or in-app.

    The URL is a :class:`~pydantic.SecretStr`: printing, logging or dumping a spec never
    shows it; :attr:`masked` is the display form. Validation errors never echo the input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    url: SecretStr
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _valid(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value().strip()
        if not raw:
            raise ValueError("enter an apprise URL, e.g. json://host:port/path, or in-app")
        if raw == "in-app":
            return SecretStr(raw)
        import apprise

        with redacted_logs(raw):
            ok = apprise.Apprise().add(raw)
        if not ok:
            raise ValueError(
                f"{mask_url_text(raw)} is not a notification URL apprise understands; "
                "examples: mailto://user:pass@host, slack://T/B/C, tgram://bot/chat, "
                "json://host:port/path"
            )
        return SecretStr(raw)

    @property
    def masked(self) -> str:
        """The URL with every credential part hidden."""
        return mask_url_text(self.url.get_secret_value())


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
    problem: str | None = Field(
        default=None, description="why a stored rule is disabled: it no longer validates"
    )

    @model_validator(mode="after")
    def _threshold(self) -> AlertRuleSpec:
        unit = THRESHOLDS.get(self.kind)
        if unit is None:
            if self.threshold is not None:
                raise ValueError(
                    f"threshold: a {self.kind} rule takes no threshold; leave it empty"
                )
        elif self.threshold is None:
            raise ValueError(f"threshold: a {self.kind} rule needs a threshold ({unit.describe()})")
        else:
            problem = unit.problem(self.kind, self.threshold)
            if problem:
                raise ValueError(f"threshold: {problem}")
        if self.kind == "model_metric_below":
            if not self.metric:
                raise ValueError("metric: name the model metric to watch, e.g. roc_auc")
            if self.metric in UNIT_INTERVAL_METRICS and not 0 <= (self.threshold or 0) <= 1:
                raise ValueError(
                    f"threshold: {self.metric} lies in [0, 1]; "
                    f"{self.threshold:g} can never be crossed (e.g. 0.52)"
                )
        elif self.metric:
            raise ValueError(
                f"metric: only model_metric_below rules watch a metric, not {self.kind}"
            )
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
    event_kind: str | None = None  # recorded kind when not the rule's (e.g. "test")


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else (now - then).total_seconds()


def evaluate_rules(rules: list[AlertRuleSpec], snap: Snapshot) -> list[Firing]:
    """Every enabled rule that fires on ``snap``, in rule order."""
    fired: list[Firing] = []
    for rule in rules:
        if not rule.enabled:
            continue
        # the validator sets a threshold for every kind that compares with one
        t = cast(float, rule.threshold)
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
            metric_value = snap.model_metrics.get(rule.metric or "")
            if metric_value is not None and metric_value < t:
                hit = (
                    f"model {rule.metric} {metric_value:.3f} < {t:.3f}",
                    rule.metric or "",
                    metric_value,
                )
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
