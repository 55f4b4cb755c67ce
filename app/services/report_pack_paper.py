"""What a report pack shows from the paper sessions: their results (equity snapshots
to the backtests' metrics) and their books against the risk limits in force."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from app.services.paper_io import IO, sessions
from core.reports.pack import PerformanceColumn, RiskSection, SessionRisk


def paper_columns(names: list[str]) -> list[PerformanceColumn]:
    """The paper sessions ``names``: equity snapshots to metrics (the backtests' formulas)."""
    from core.backtest.metrics import equity_metrics
    from core.data.frequency import periods_per_year_of
    from core.store.paper import PaperSessionRepository
    from core.store.trading import FillRepository

    out = []
    with sessions() as s:
        repo = PaperSessionRepository(s)
        for name in names:
            row = repo.get(name)
            if row is None:
                continue
            snaps = repo.equity(row.id)
            fills = (
                len(FillRepository(s).list(row.account_id, limit=10**7)) if row.account_id else 0
            )
            cash = float(row.config.get("initial_cash") or 0.0)
            index = pd.DatetimeIndex([pd.Timestamp(e.ts).tz_localize(None) for e in snaps])
            equity = pd.Series([e.equity for e in snaps], index=index, dtype="float64")
            values: dict[str, float] = {"n_trades": float(fills), "bars": float(len(equity))}
            span = ""
            if len(equity) >= 2 and cash > 0:
                per_year = periods_per_year_of(index)
                raw = equity_metrics(equity.to_numpy(), cash, per_year)
                values |= {k: float(np.asarray(v)) for k, v in raw.items()}
            if len(equity):
                span = f", {equity.index[0]:%Y-%m-%d} – {equity.index[-1]:%Y-%m-%d}"
            symbols = ", ".join(row.symbols)
            detail = f"{row.dataset}: {symbols}{span} (session {row.status}; trades are fills)"
            label = f"Paper session {row.name}"
            pairs = tuple((row.dataset, sym) for sym in row.symbols)
            out.append(PerformanceColumn("paper", label, detail, values, equity, pairs))
    return out


def risk_section(names: list[str], at: datetime) -> RiskSection:
    """The limits in force and each session's book against them at ``at``."""
    from core.paper.monitor import read_monitor, risk_state
    from core.paper.session import stored_frames
    from core.risk import portfolio_risk
    from core.risk.limits import LIMIT_BOUNDS
    from core.risk.versions import limits_in_force
    from core.store.paper import PaperSessionRepository

    with sessions() as s:
        version, limits = limits_in_force(s)
    books = []
    for name in names:
        with sessions() as s:
            view = read_monitor(s, name)
        with sessions() as s:
            row = PaperSessionRepository(s).get(name)
            stored = None if row is None else stored_frames(s, row)
        closes = IO.frames if stored is None else (lambda _d, symbol, f=stored: f[symbol])
        state = risk_state(view, closes)
        if state is None:
            continue
        report = portfolio_risk(state, limits, now=at)
        books.append(
            SessionRisk(
                name,
                report.equity,
                report.gross_exposure,
                report.net_exposure,
                dict(report.utilization),
            )
        )
    values = limits.model_dump(mode="json")
    units = {k: b.unit for k, b in LIMIT_BOUNDS.items()}
    return RiskSection(version, values, units, books)


def model_sessions(name: str) -> list[str]:
    """Paper sessions whose trading model is a version of ``name``."""
    from core.paper.model_refs import parse_model_ref
    from core.store.paper import PaperSessionRepository

    with sessions() as s:
        rows = PaperSessionRepository(s).list()
        return [
            r.name
            for r in rows
            if (r.config or {}).get("model") and parse_model_ref(r.config["model"]).name == name
        ]


__all__ = ["model_sessions", "paper_columns", "risk_section"]
