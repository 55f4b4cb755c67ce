"""The worker's book: the risk snapshot each decision reads, and the bar's close.

The day's loss is measured from the equity at the close of the bar before (bars are
trading days), the same rule the pre-trade check and the risk report use
(:func:`core.risk.state.build_portfolio_state`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import pandas as pd

from core.broker import portfolio_state
from core.paper.context import SessionContext
from core.paper.report import CycleReport, Summary
from core.paper.sizing import book_breaches
from core.risk import RiskLimits, portfolio_risk
from core.risk.state import PortfolioState
from core.store.models import utcnow
from core.store.paper import PaperSessionRepository
from core.store.trading import PositionRepository


@dataclass(frozen=True)
class DayMarks:
    """The equity the day started from, and the peak, before bar ``bar`` is decided.

    ``closes`` maps a bar to the equity at its close: the last completed bar, or, for a
    session's first bar, the equity before it.
    """

    bar: int
    closes: Mapping[int, float]
    peak_equity: float

    @property
    def start_of_day_equity(self) -> float:
        """Equity at the close of the bar before ``bar``."""
        return self.closes[max(self.closes)]


def day_marks(ctx: SessionContext, t: int) -> DayMarks:
    """Read the last equity snapshot and the session's peak (before bar t's decisions)."""
    with ctx.sessions.begin() as s:
        row = ctx.session_row(s)
        last = PaperSessionRepository(s).last_equity(row.id)
        if last is not None:
            closes = {last.bar: last.equity}
        else:
            closes = {t - 1: ctx.broker.account().equity}
        peak = max(row.peak_equity, *closes.values())
    return DayMarks(t, closes, peak)


def book_state(
    ctx: SessionContext,
    marks: DayMarks,
    *,
    history: pd.DataFrame,
    prices: Mapping[str, float],
    order_times: Sequence[datetime] = (),
    pending: Mapping[str, float] | None = None,
) -> PortfolioState:
    """The broker's book at bar ``marks.bar`` for the pre-trade check and the sizer.

    ``pending`` adds this bar's orders not yet filled (they fill at the next open), so
    later symbols are sized and checked against the book as it will be.
    """
    state = portfolio_state(
        ctx.broker,
        bar=marks.bar,
        equity_at_close=marks.closes,
        peak_equity=marks.peak_equity,
        recent_order_times=order_times,
        returns_history=history,
        prices=prices,
    )
    if not pending:
        return state
    book = dict(state.positions)
    for symbol, qty in pending.items():
        book[symbol] = book.get(symbol, 0.0) + qty
    return replace(state, positions={k: v for k, v in book.items() if v != 0})


def utilization(
    ctx: SessionContext,
    marks: DayMarks,
    limits: RiskLimits,
    *,
    history: pd.DataFrame,
    prices: Mapping[str, float],
) -> dict[str, float]:
    """Share of every risk limit in use after this bar (for the alert rules)."""
    state = book_state(ctx, marks, history=history, prices=prices)
    return dict(portfolio_risk(state, limits).utilization)


def close_bar(
    ctx: SessionContext,
    t: int,
    report: CycleReport,
    limits: RiskLimits,
    prices: Mapping[str, float],
    summary: Summary,
) -> None:
    """Equity snapshot, peak, cursor: one transaction that completes the bar.

    The book's exposures are audited here from the ledger's quantities, the bar's
    closes and the broker's equity: every limit they break counts in
    ``summary.limit_breaches``.
    """
    account = ctx.broker.account()
    with ctx.sessions.begin() as s:
        ctx.renew(s)
        ctx.broker.sync_account(s, ctx.account_id)
        row = ctx.session_row(s)
        positions = PositionRepository(s).list(ctx.account_id)
        book = {p.symbol: p.qty for p in positions}
        marks = {p.symbol: prices.get(p.symbol, p.last_price or p.avg_price) for p in positions}
        summary.limit_breaches += len(
            book_breaches(positions=book, prices=marks, equity=account.equity, limits=limits)
        )
        realized = sum(p.realized_pnl for p in positions)
        unrealized = sum(p.qty * ((p.last_price or p.avg_price) - p.avg_price) for p in positions)
        PaperSessionRepository(s).snapshot(
            session_id=row.id,
            bar=t,
            ts=ctx.bar_time(t),
            equity=account.equity,
            cash=account.cash,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
        )
        row.peak_equity = max(row.peak_equity, account.equity)
        row.cursor = t
        row.cursor_ts = ctx.bar_time(t)
        row.updated_at = utcnow()
        report.equity = account.equity
        report.peak_equity = row.peak_equity
