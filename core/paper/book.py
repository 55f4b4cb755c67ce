"""The worker's book: the risk snapshot each decision reads, and the bar's close.

The day's loss is measured from the equity at the close of the bar before (bars are
trading days), the same rule the pre-trade check and the risk report use
(:func:`core.risk.state.build_portfolio_state`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from core.broker import LedgerBroker, portfolio_state
from core.paper.context import SessionContext
from core.paper.group import BarWrites
from core.paper.report import CycleReport, Summary
from core.paper.sizing import book_breaches
from core.risk import RiskLimits
from core.risk.report import limit_utilization
from core.risk.state import HistoryArrays, PortfolioState, with_history
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


def day_marks(ctx: SessionContext, s: Session, t: int) -> tuple[DayMarks, float]:
    """Read the last equity snapshot and the session's peak (before bar t's decisions);
    also returns the peak as stored (which the marks' peak may exceed on a first bar)."""
    row = ctx.session_row(s)
    last = PaperSessionRepository(s).last_equity(row.id)
    if last is not None:
        closes = {last.bar: last.equity}
    else:
        closes = {t - 1: ctx.broker.account().equity}
    peak = max(row.peak_equity, *closes.values())
    return DayMarks(t, closes, peak), row.peak_equity


def book_state(
    ctx: SessionContext,
    marks: DayMarks,
    *,
    history: HistoryArrays,
    prices: Mapping[str, float],
    order_times: Sequence[datetime] = (),
    pending: Mapping[str, float] | None = None,
) -> PortfolioState:
    """The broker's book at bar ``marks.bar`` for the pre-trade check and the sizer.

    ``history`` is the bar's returns arrays (:func:`~core.risk.state.history_arrays`,
    computed once per bar). ``pending`` adds this bar's orders not yet filled (they fill
    at the next open), so later symbols are sized and checked against the book as it
    will be.
    """
    state = portfolio_state(
        ctx.broker,
        bar=marks.bar,
        equity_at_close=marks.closes,
        peak_equity=marks.peak_equity,
        recent_order_times=order_times,
        prices=prices,
    )
    if pending:
        book = dict(state.positions)
        for symbol, qty in pending.items():
            book[symbol] = book.get(symbol, 0.0) + qty
        state = replace(state, positions={k: v for k, v in book.items() if v != 0})
    return with_history(state, history)


def utilization(
    ctx: SessionContext,
    marks: DayMarks,
    limits: RiskLimits,
    *,
    history: HistoryArrays,
    prices: Mapping[str, float],
) -> dict[str, float]:
    """Share of every risk limit in use after this bar (for the alert rules)."""
    state = book_state(ctx, marks, history=history, prices=prices)
    return limit_utilization(state, limits)


def close_bar(
    ctx: SessionContext,
    s: Session,
    t: int,
    report: CycleReport,
    limits: RiskLimits,
    prices: Mapping[str, float],
    summary: Summary,
    *,
    peak_equity: float,
    joined: bool = False,
    writes: BarWrites | None = None,
) -> None:
    """Equity snapshot, peak, cursor: the writes that complete the bar, in ``s``.

    ``peak_equity`` is the session's stored peak before this bar; ``joined``: the
    broker is a :class:`~core.broker.LedgerBroker` bound to ``s``. The book's exposures
    are audited here from the ledger's quantities, the bar's closes and the broker's
    equity: every limit they break counts in ``summary.limit_breaches``. With ``writes``
    the snapshot and the cursor are written when the transaction commits.
    """
    account = ctx.broker.account()
    ctx.broker.sync_account(s, ctx.account_id)
    broker = ctx.broker
    if joined and isinstance(broker, LedgerBroker):
        positions = broker.position_rows()  # the ledger's rows, already read in ``s``
    else:
        positions = PositionRepository(s).list(ctx.account_id)
    book = {p.symbol: p.qty for p in positions}
    marks = {p.symbol: prices.get(p.symbol, p.last_price or p.avg_price) for p in positions}
    summary.limit_breaches += len(
        book_breaches(positions=book, prices=marks, equity=account.equity, limits=limits)
    )
    realized = sum(p.realized_pnl for p in positions)
    unrealized = sum(p.qty * ((p.last_price or p.avg_price) - p.avg_price) for p in positions)
    peak = max(peak_equity, account.equity)
    snapshot = {
        "equity": account.equity,
        "cash": account.cash,
        "realized_pnl": realized,
        "unrealized_pnl": unrealized,
    }
    if writes is not None:
        writes.close_bar(bar=t, ts=ctx.bar_time(t), peak_equity=peak, snapshot=snapshot)
    else:
        PaperSessionRepository(s).close_bar(
            ctx.session_id, bar=t, ts=ctx.bar_time(t), peak_equity=peak, snapshot=snapshot
        )
    report.equity = account.equity
    report.peak_equity = peak
