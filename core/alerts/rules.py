"""Alert rule specs and their evaluation against a monitoring snapshot."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

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
    "model_metric",
    "regime_change",
    "stale_data",
    "heartbeat",
    "latency",
    "drift",
    "data_gap",
    "outlier_return",
    "bad_tick",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
InputKind = Literal[Kind, "model_metric_below", "heartbeat_lost"]
"""What a rule request may name: every kind, and the old names (renamed on validation)."""
Severity = Literal["info", "warning", "critical"]
# Kinds recorded in the history that are not rule kinds.
EVENT_KINDS: tuple[str, ...] = ("test",)
RENAMED_KINDS: dict[str, str] = {
    "model_metric_below": "model_metric",
    "heartbeat_lost": "heartbeat",
}
"""Old kind names still accepted (inputs and stored rules; migration 0013 renames them)."""
MONITORING_KINDS: tuple[str, ...] = ("drift", "model_metric", "stale_data", "heartbeat")
QUALITY_KINDS: tuple[str, ...] = ("data_gap", "outlier_return", "bad_tick")
# Metrics bounded to [0, 1], so a model_metric threshold outside it is a typo.
UNIT_INTERVAL_METRICS = frozenset(
    {
        "roc_auc",
        "auc",
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "f1",
        "hit_rate",
        "brier",
        "ece",
    }
)
LOWER_IS_BETTER = frozenset({"brier", "ece", "log_loss"})
"""Model metrics where a larger value is worse; so is every ``<metric>_drop`` (the
registration figure minus the live one, signed so that positive means decay)."""


def worse_when_larger(metric: str) -> bool:
    """Whether a larger ``metric`` is worse (``brier``, ``ece``, ``auc_drop``, ...).

    >>> worse_when_larger("auc"), worse_when_larger("brier"), worse_when_larger("auc_drop")
    (False, True, True)
    """
    return metric in LOWER_IS_BETTER or metric.endswith("_drop")


@dataclass(frozen=True)
class ThresholdUnit:
    """The unit and valid range of one rule kind's threshold."""

    unit: str
    low: float
    high: float
    example: str
    low_open: bool = False
    integer: bool = False
    over_hint: str = ""
    """Said after an error for a value above the range (e.g. an old unit's value)."""

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
        elif self.over_hint and math.isfinite(value) and value > self.high:
            hint = f"; {self.over_hint}"
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
    "model_metric": ThresholdUnit(
        "metric value (fires below it; above it for brier, ece and <metric>_drop)",
        -1e6,
        1e6,
        "0.52 for auc (auc, hit_rate, brier, ece lie in [0, 1]; auc_drop 0.05 = 5 points "
        "under the registration figure)",
    ),
    "stale_data": ThresholdUnit(
        "count of bar intervals without a new bar while the market is open",
        1,
        10_000,
        "3 (three bars missed)",
        over_hint="stale_data thresholds count bars now, not seconds: "
        "for a day of daily bars enter 1",
    ),
    "heartbeat": ThresholdUnit("seconds since the last heartbeat", 1, 86_400, "60"),
    "latency": ThresholdUnit("milliseconds of decision latency", 1, 600_000, "500"),
    "drift": ThresholdUnit(
        "population stability index (PSI) of the most drifted feature",
        0,
        100,
        "0.25 (a major shift; 0.1 to 0.25 is moderate)",
        low_open=True,
    ),
    "data_gap": ThresholdUnit("count of missing bars in one gap", 1, 10_000, "1", integer=True),
    "outlier_return": ThresholdUnit(
        "number of standard deviations of a bar's return (trailing window)", 1, 1_000, "6"
    ),
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

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        """Accept the old kind names (model_metric_below, heartbeat_lost)."""
        kind = data.get("kind") if isinstance(data, dict) else None
        if isinstance(kind, str) and kind in RENAMED_KINDS:
            data = {**data, "kind": RENAMED_KINDS[data["kind"]]}
        return data

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
        if self.kind == "model_metric":
            if not self.metric:
                raise ValueError(
                    "metric: name the model metric to watch, e.g. auc, hit_rate, brier, ece "
                    "or auc_drop"
                )
            if self.metric in UNIT_INTERVAL_METRICS and not 0 <= (self.threshold or 0) <= 1:
                raise ValueError(
                    f"threshold: {self.metric} lies in [0, 1]; "
                    f"{self.threshold:g} can never be crossed (e.g. 0.52)"
                )
        elif self.metric:
            raise ValueError(f"metric: only model_metric rules watch a metric, not {self.kind}")
        if not self.channels:
            raise ValueError("channels: pick at least one channel (in-app is always available)")
        return self


class Snapshot(BaseModel):
    """What the monitor knows at one moment; every field optional.

    Per-symbol fields (``regimes``, ``quality``) cover every symbol of a session; the
    single ``regime``/``previous_regime`` pair is kept for one-symbol callers.
    """

    model_config = ConfigDict(frozen=True)

    ts: datetime
    session: str | None = None
    drawdown: float | None = None
    daily_loss: float | None = None
    utilization: dict[str, float] = Field(default_factory=dict)
    rejected_orders: int = 0
    broker_connected: bool = True
    reconciliation_differences: int = 0
    model_metrics: dict[str, float] = Field(default_factory=dict)
    """Live figures (``auc``, ``hit_rate``, ``brier``, ``ece``, ``<metric>_drop``...)."""
    model_reference: dict[str, float] = Field(default_factory=dict)
    """The model's out-of-sample figures at registration, for the messages."""
    regime: str | None = None
    previous_regime: str | None = None
    regimes: dict[str, str] = Field(default_factory=dict)
    previous_regimes: dict[str, str] = Field(default_factory=dict)
    drift: dict[str, float] = Field(default_factory=dict)
    """``psi:FEATURE`` / ``ks:FEATURE`` overall, ``psi:FEATURE@REGIME`` per regime."""
    quality: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Per symbol: ``gap_bars``, ``outlier_sigma``, ``bad_tick`` of the last bar."""
    last_bar_ts: datetime | None = None
    bar_interval_s: float | None = None
    missed_bars: float | None = None
    """Bars the market should have produced since the last one (stale-data rules)."""
    market_open: bool | None = None
    heartbeat_ts: datetime | None = None
    """The worker's last heartbeat as stored (None: not known here; never faked)."""
    latency_ms: float | None = None


@dataclass(frozen=True)
class Firing:
    """A rule that fired, with its message and deduplication key."""

    rule: AlertRuleSpec
    message: str
    dedupe_key: str
    value: float | str | None
    event_kind: str | None = None  # recorded kind when not the rule's (e.g. "test")


Hit = tuple[str, str, float | str | None]


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else (now - then).total_seconds()


def _worst(values: dict[str, float]) -> tuple[str, float] | None:
    return max(values.items(), key=lambda kv: kv[1]) if values else None


def _per_symbol(snap: Snapshot, key: str) -> dict[str, float]:
    return {sym: q[key] for sym, q in snap.quality.items() if math.isfinite(q.get(key, math.nan))}


def _model_metric(rule: AlertRuleSpec, snap: Snapshot, t: float) -> Hit | None:
    metric = rule.metric or ""
    value = snap.model_metrics.get(metric)
    if value is None or not math.isfinite(value):
        return None
    larger_worse = worse_when_larger(metric)
    if (value >= t) if larger_worse else (value < t):
        base = metric.removesuffix("_drop")
        ref = snap.model_reference.get(base)
        at_reg = "" if ref is None else f" (registration {base} {ref:.3f})"
        op = ">=" if larger_worse else "<"
        return f"model {metric} {value:.3f} {op} {t:.3f}{at_reg}", metric, value
    return None


def _drift(snap: Snapshot, t: float) -> Hit | None:
    psi = {k.removeprefix("psi:"): v for k, v in snap.drift.items() if k.startswith("psi:")}
    worst = _worst({k: v for k, v in psi.items() if math.isfinite(v)})
    if worst is None or worst[1] < t:
        return None
    where, value = worst
    feature, _, regime = where.partition("@")
    ks = snap.drift.get(f"ks:{where}")
    ks_text = "" if ks is None else f", KS {ks:.2f}"
    in_regime = f" in regime {regime}" if regime else ""
    n = sum(1 for v in psi.values() if v >= t)
    return (
        f"feature drift: PSI {value:.2f} >= {t:g} on {feature}{in_regime}{ks_text} "
        f"({n} feature/regime pair(s) over)",
        where,
        value,
    )


def _stale(snap: Snapshot, t: float) -> Hit | None:
    if snap.market_open is False:
        return None
    missed = snap.missed_bars
    if missed is None and snap.bar_interval_s:
        age = _age(snap.ts, snap.last_bar_ts)
        missed = None if age is None else age / snap.bar_interval_s
    if missed is None or missed < t:
        return None
    age = _age(snap.ts, snap.last_bar_ts)
    since = "" if age is None else f", last bar {age:,.0f} s ago"
    return f"data is stale: {missed:.1f} bar interval(s) without a new bar{since}", "", missed


def _quality(rule: AlertRuleSpec, snap: Snapshot, t: float | None) -> Hit | None:
    key, what = {
        "data_gap": ("gap_bars", "missing bar(s)"),
        "outlier_return": ("outlier_sigma", "sigma return"),
        "bad_tick": ("bad_tick", "bad tick(s)"),
    }[rule.kind]
    values = _per_symbol(snap, key)
    over = {s: v for s, v in values.items() if v >= (t if t is not None else 1)}
    if not over:
        return None
    names = ", ".join(f"{s} {v:g} {what}" for s, v in sorted(over.items()))
    return f"{rule.kind.replace('_', ' ')}: {names}", ",".join(sorted(over)), max(over.values())


def _regime(snap: Snapshot) -> Hit | None:
    pairs = dict(snap.regimes)
    before = dict(snap.previous_regimes)
    if snap.regime and snap.previous_regime and not pairs:
        pairs, before = {"": snap.regime}, {"": snap.previous_regime}
    changed = {s: (before[s], r) for s, r in pairs.items() if before.get(s) and before[s] != r}
    if not changed:
        return None
    text = ", ".join(f"{s + ' ' if s else ''}{a} -> {b}" for s, (a, b) in sorted(changed.items()))
    detail = ",".join(f"{s}{a}->{b}" for s, (a, b) in sorted(changed.items()))
    return f"regime changed {text}", detail, next(iter(changed.values()))[1]


def _hit(rule: AlertRuleSpec, snap: Snapshot) -> Hit | None:
    # the validator sets a threshold for every kind that compares with one
    t = cast(float, rule.threshold)
    kind = rule.kind
    if kind == "drawdown" and snap.drawdown is not None and snap.drawdown >= t:
        return f"drawdown {snap.drawdown:.1%} >= {t:.1%}", "", snap.drawdown
    if kind == "daily_loss" and snap.daily_loss is not None and snap.daily_loss >= t:
        return f"daily loss {snap.daily_loss:.1%} >= {t:.1%}", "", snap.daily_loss
    if kind == "limit_breach":
        over = {k: v for k, v in snap.utilization.items() if v > 1.0}
        if over:
            names = ", ".join(f"{k} {v:.0%}" for k, v in sorted(over.items()))
            return f"risk limit breached: {names}", ",".join(sorted(over)), max(over.values())
    elif kind == "near_breach":
        near = {k: v for k, v in snap.utilization.items() if t <= v <= 1.0}
        if near:
            names = ", ".join(f"{k} {v:.0%}" for k, v in sorted(near.items()))
            return (
                f"near a risk limit (>= {t:.0%}): {names}",
                ",".join(sorted(near)),
                max(near.values()),
            )
    elif kind == "rejected_orders" and snap.rejected_orders >= max(t or 1, 1):
        return f"{snap.rejected_orders} order(s) rejected", "", snap.rejected_orders
    elif kind == "broker_disconnect" and not snap.broker_connected:
        return "broker disconnected", "", None
    elif kind == "reconciliation_mismatch" and snap.reconciliation_differences > 0:
        n = snap.reconciliation_differences
        return f"{n} reconciliation difference(s) with the broker", "", n
    elif kind == "model_metric":
        return _model_metric(rule, snap, t)
    elif kind == "regime_change":
        return _regime(snap)
    elif kind == "stale_data":
        return _stale(snap, t)
    elif kind == "heartbeat":
        age = _age(snap.ts, snap.heartbeat_ts)
        if age is not None and age >= t:
            return f"worker heartbeat lost: last beat {age:,.0f} s ago (>= {t:g} s)", "", age
    elif kind == "latency" and snap.latency_ms is not None and snap.latency_ms >= t:
        return f"decision latency {snap.latency_ms:.0f} ms >= {t:.0f} ms", "", snap.latency_ms
    elif kind == "drift":
        return _drift(snap, t)
    elif kind in QUALITY_KINDS:
        return _quality(rule, snap, rule.threshold)
    return None


def evaluate_rules(rules: list[AlertRuleSpec], snap: Snapshot) -> list[Firing]:
    """Every enabled rule that fires on ``snap``, in rule order.

    A message names the rule that decided (``[severity] name (kind): ...``) and, for a
    session's snapshot, the session.
    """
    fired: list[Firing] = []
    where = f" [session {snap.session}]" if snap.session else ""
    for rule in rules:
        if not rule.enabled:
            continue
        hit = _hit(rule, snap)
        if hit is not None:
            message, detail, value = hit
            fired.append(
                Firing(
                    rule,
                    f"[{rule.severity}] {rule.name} ({rule.kind}): {message}{where}",
                    f"{rule.name}:{rule.kind}:{snap.session or ''}:{detail}",
                    value,
                )
            )
    return fired
