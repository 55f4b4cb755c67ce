"""What a worker run and one of its cycles report (the CLI, alerts and the monitor read them)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from core.alerts import Snapshot


@dataclass
class Summary:
    """Totals of a worker run (the CLI prints these)."""

    cycles: int = 0
    orders: int = 0
    fills: int = 0
    rejected: int = 0
    """Orders not placed: blocked by the pre-trade check plus refused by the broker."""
    risk_rejected: int = 0
    broker_rejected: int = 0
    orders_blocked_or_shrunk_by_risk: int = 0
    """Decisions whose order the pre-trade check blocked or cut."""
    sized_within_limits: int = 0
    """Decisions whose target or order the sizer bounded by the limits in force."""
    limit_breaches: int = 0
    """Exposure limits (weight, gross, net) broken by the book at a bar's close."""
    final_equity: float = math.nan
    state: str = "stopped"
    last_bar: str | None = None
    resubmitted: int = 0
    reconciliation_differences: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class CycleReport:
    """What one cycle saw, for alerts and the monitor."""

    bar: int
    ts: pd.Timestamp
    equity: float
    start_of_day_equity: float
    peak_equity: float
    regime: dict[str, str] = field(default_factory=dict)
    previous_regime: dict[str, str] = field(default_factory=dict)
    rejected: int = 0
    latency_ms: float = 0.0
    """Wall time of the bar's work (its heartbeat's latency)."""
    commit_ms: float = 0.0
    """Wall time of the commit that ended the bar's transaction (with the writes deferred
    to it, :mod:`core.paper.group`), charged to the bar that ended it; 0 for the others."""
    broker_connected: bool = True
    reconciliation_differences: int = 0
    utilization: dict[str, float] = field(default_factory=dict)
    feed: str = "replay"
    """The session's feed (``alpaca``, ``simulated`` or ``replay``)."""
    bar_interval_s: float = 86_400.0
    """The bar length in seconds (stale-data rules count in bar intervals)."""
    stage_ms: dict[str, float] = field(default_factory=dict)
    """Latency per stage for a live bar: ``arrival`` (bar close to receipt), ``decision``
    (receipt to the last decision), ``order`` (receipt to the last order submitted)."""
    probabilities: dict[str, float] = field(default_factory=dict)
    """The model's probability of an up move per symbol (model agents only)."""
    model_metrics: dict[str, float] = field(default_factory=dict)
    """Rolling live metrics of the model (hit_rate, auc, brier, calibration...)."""
    drift: dict[str, float] = field(default_factory=dict)
    """Drift scores (e.g. ``psi_max``, ``ks_max``, per feature ``psi:NAME``)."""
    quality: dict[str, float] = field(default_factory=dict)
    """Data-quality findings of this bar (e.g. ``gap_bars``, ``outlier_sigma``, ``bad_ticks``)."""
    session: str | None = None
    """The session's name (set by the monitoring observer; alert messages name it)."""
    model_reference: dict[str, float] = field(default_factory=dict)
    """The model's out-of-sample figures at registration (set by the monitoring observer)."""


def _split(figures: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{"gap_bars:AAPL": 1.0}`` -> ``{"AAPL": {"gap_bars": 1.0}}`` (finite values only)."""
    out: dict[str, dict[str, float]] = {}
    for key, value in figures.items():
        name, sep, symbol = key.partition(":")
        if sep and math.isfinite(value):
            out.setdefault(symbol, {})[name] = value
    return out


def _utc(ts: pd.Timestamp) -> datetime:
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    out: datetime = stamp.to_pydatetime()
    return out


def alert_snapshot(
    report: CycleReport,
    symbols: str | list[str] | None,
    now: datetime,
    *,
    session: str | None = None,
    model_reference: dict[str, float] | None = None,
) -> Snapshot:
    """What the alert rules see after a cycle: every symbol's regime and data quality,
    the model's live metrics and drift, and the bar's time.

    ``symbols`` (one name or a list; None: every symbol the report has a regime of)
    orders the regimes. The worker has just processed a bar, so no bar is missed
    (``missed_bars`` 0: the watchdog checks stale data). The heartbeat is not set here
    (the worker's stored beat is what the watchdog reads; never a fake ``now``).
    """
    names = [symbols] if isinstance(symbols, str) else list(symbols or report.regime)
    names += [s for s in report.regime if s not in names]
    first = names[0] if names else None
    metrics = {k: v for k, v in report.model_metrics.items() if math.isfinite(v)}
    if "auc" in metrics:
        metrics.setdefault("roc_auc", metrics["auc"])
    return Snapshot(
        ts=now,
        session=session or report.session,
        drawdown=max(0.0, 1 - report.equity / report.peak_equity),
        daily_loss=max(0.0, 1 - report.equity / report.start_of_day_equity),
        utilization=report.utilization,
        rejected_orders=report.rejected,
        broker_connected=report.broker_connected,
        reconciliation_differences=report.reconciliation_differences,
        model_metrics=metrics,
        model_reference=dict(model_reference or report.model_reference),
        regime=report.regime.get(first) if first else None,
        previous_regime=report.previous_regime.get(first) if first else None,
        regimes={s: report.regime[s] for s in names if s in report.regime},
        previous_regimes={
            s: report.previous_regime[s] for s in names if s in report.previous_regime
        },
        drift={k: v for k, v in report.drift.items() if math.isfinite(v)},
        quality=_split(report.quality),
        last_bar_ts=_utc(report.ts),
        bar_interval_s=report.bar_interval_s,
        missed_bars=0.0,
        latency_ms=report.latency_ms,
    )
