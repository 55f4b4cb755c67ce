"""The live parts of a paper session's monitor: its feed settings, latency, per-symbol
book, model health, drift and live A/B test, read in the monitor's transaction.

The figures come from the tables their owners write: ``monitor_points`` (monitoring's
``model`` / ``drift`` points, and the ``latency`` points of :class:`LatencyObserver`),
``model_references`` (the registration figures), the live A/B tests of the model loop,
and the session's decisions and positions. Nothing here computes a statistic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.paper.observers import BarEvent
from core.store.model_loop import LiveTest
from core.store.monitoring import MonitoringRepository, MonitorPoint
from core.store.paper import DecisionRepository, PaperSession, TradingDecision

FEED_KEYS = ("feed", "timeframe", "dataset", "model", "challenger", "promotion", "data_feed")
LATENCY = "latency"
"""The ``kind`` of the monitor points that hold a bar's latency stages."""


def feed_view(config: Mapping[str, Any]) -> dict[str, Any]:
    """The session's feed settings (sessions stored before feeds existed: replay, 1Day)."""
    out = {k: config.get(k) for k in FEED_KEYS}
    out["feed"] = out["feed"] or "replay"
    out["timeframe"] = out["timeframe"] or "1Day"
    return out


def _latest(s: Session, session: str, kind: str, limit: int = 1) -> list[MonitorPoint]:
    """The newest ``limit`` points of one kind, newest first."""
    rows = s.scalars(
        select(MonitorPoint)
        .where(MonitorPoint.session_name == session, MonitorPoint.kind == kind)
        .order_by(MonitorPoint.id.desc())
        .limit(limit)
    ).all()
    return list(rows)


def latency_view(s: Session, session: str, window: int = 50) -> dict[str, Any]:
    """The last bar's latency stages (ms: ``arrival`` = bar close to receipt,
    ``decision`` and ``order`` = receipt to decision / order) and their medians over the
    last ``window`` bars; empty without a live bar."""
    rows = _latest(s, session, LATENCY, window)
    if not rows:
        return {}
    frame = pd.DataFrame([r.values for r in rows])
    return {
        "bar": rows[0].bar,
        "last": {k: float(v) for k, v in rows[0].values.items()},
        "median": {k: float(frame[k].median()) for k in frame.columns},
        "bars": len(rows),
    }


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def book_view(s: Session, row: PaperSession, positions: pd.DataFrame) -> pd.DataFrame:
    """One row per symbol of the session: position, market value, unrealized and realized
    P&L (the ledger), the last decision's regime and bar, and the model's probability of
    an up move at that bar (the decision's, else monitoring's record of it; None for the
    rule agents)."""
    latest: dict[str, TradingDecision] = {}
    for one in DecisionRepository(s).recent(limit=20 * len(row.symbols), session_name=row.name):
        latest.setdefault(one.symbol, one)
    model = _latest(s, row.name, "model", 1)
    predicted = dict(model[0].values.get("predictions", {})) if model else {}
    model_bar = model[0].bar if model else None
    held = {r["symbol"]: r for r in positions.to_dict("records")} if len(positions) else {}
    out = []
    for sym in row.symbols:
        p = held.get(sym, {})
        d = latest.get(sym)
        prob = _finite(d.payload.get("probability")) if d is not None else None
        if prob is None and d is not None and model_bar == d.bar:
            prob = _finite(predicted.get(sym))
        out.append(
            {
                "symbol": sym,
                "position": float(p.get("qty", 0.0)),
                "last_price": _finite(p.get("last_price")),
                "market_value": float(p.get("market_value", 0.0)),
                "unrealized_pnl": float(p.get("unrealized_pnl", 0.0)),
                "realized_pnl": float(p.get("realized_pnl", 0.0)),
                "regime": None if d is None else d.payload.get("regime"),
                "probability": prob,
                "bar": None if d is None else d.bar,
            }
        )
    return pd.DataFrame(out)


def _reference(s: Session, ref: str | None) -> dict[str, Any]:
    """The registration figures of the session's model (empty without one)."""
    if not ref:
        return {}
    from core.paper.model_loop import resolve_model_ref

    try:
        version = resolve_model_ref(s, ref)
    except (LookupError, ValueError):
        return {}
    stored = MonitoringRepository(s).reference(version.id)
    figures = dict(stored.oos) if stored is not None else {}
    return {k: v for k, v in figures.items() if _finite(v) is not None}


def model_health_view(s: Session, row: PaperSession) -> dict[str, Any]:
    """The live model metrics of the newest ``model`` point that has them, beside the
    model's out-of-sample figures at registration."""
    live: dict[str, Any] = {}
    bar = None
    for point in _latest(s, row.name, "model", 50):
        metrics = point.values.get("metrics") or {}
        if metrics:
            live, bar = dict(metrics), point.bar
            break
    return {
        "model": (row.config or {}).get("model"),
        "bar": bar,
        "live": live,
        "reference": _reference(s, (row.config or {}).get("model")),
    }


def drift_view(s: Session, row: PaperSession) -> dict[str, Any]:
    """The newest drift point: one row per feature (and regime) with its PSI and KS,
    the worst PSI first, and the point's bar, time and live rows."""
    points = _latest(s, row.name, "drift", 1)
    if not points:
        return {"bar": None, "ts": None, "rows": 0, "table": pd.DataFrame()}
    values = points[0].values
    cells: dict[tuple[str, str, str], dict[str, Any]] = {}
    for key, value in values.items():
        stat, sep, where = key.partition(":")
        if not sep or stat not in {"psi", "ks", "psi_all", "ks_all"}:
            continue
        feature, _, regime = where.partition("@")
        basis = "whole reference" if stat.endswith("_all") else "own"
        cell = cells.setdefault(
            (feature, regime, basis),
            {"feature": feature, "regime": regime or "all", "reference": basis},
        )
        cell[stat.removesuffix("_all")] = _finite(value)
    table = pd.DataFrame(
        list(cells.values()), columns=["feature", "regime", "reference", "psi", "ks"]
    )
    table = table.sort_values("psi", ascending=False, na_position="last", kind="stable")
    return {
        "bar": points[0].bar,
        "ts": points[0].ts,
        "rows": int(values.get("rows", 0) or 0),
        "table": table.reset_index(drop=True),
    }


def live_test_view(s: Session, row: PaperSession) -> dict[str, Any] | None:
    """The session's newest live A/B test (champion vs shadow challenger), or None."""
    test = s.scalars(
        select(LiveTest).where(LiveTest.session_name == row.name).order_by(LiveTest.id.desc())
    ).first()
    if test is None:
        return None
    return {
        "id": test.id,
        "champion": test.champion,
        "challenger": test.challenger,
        "state": test.state,
        "decision": test.decision,
        "log_lr": test.log_lr,
        "upper": test.upper,
        "lower": test.lower,
        "n": test.n,
        "promotion": test.promotion,
        "rule": test.rule,
    }


class LatencyObserver:
    """Stores each live bar's latency stages (``report.stage_ms``) as a ``latency``
    monitor point, in the bar's transaction (replayed bars have none: nothing stored)."""

    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Nothing to restore."""

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """One point with the bar's stages (ms)."""
        stages = {k: float(v) for k, v in event.report.stage_ms.items() if math.isfinite(v)}
        if not stages:
            return
        MonitoringRepository(s).add_bar_point(
            event.session_name, event.t, event.ts, LATENCY, stages
        )


__all__ = [
    "LATENCY",
    "LatencyObserver",
    "book_view",
    "drift_view",
    "feed_view",
    "latency_view",
    "live_test_view",
    "model_health_view",
]
