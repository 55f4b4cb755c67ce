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


def alert_snapshot(report: CycleReport, symbol: str, now: datetime) -> Snapshot:
    """What the alert rules see after a cycle (regimes of ``symbol``, the first traded)."""
    return Snapshot(
        ts=now,
        drawdown=max(0.0, 1 - report.equity / report.peak_equity),
        daily_loss=max(0.0, 1 - report.equity / report.start_of_day_equity),
        utilization=report.utilization,
        rejected_orders=report.rejected,
        broker_connected=report.broker_connected,
        reconciliation_differences=report.reconciliation_differences,
        regime=report.regime.get(symbol),
        previous_regime=report.previous_regime.get(symbol),
        heartbeat_ts=now,
        latency_ms=report.latency_ms,
    )
