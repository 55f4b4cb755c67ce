"""The worker's book: the risk snapshot each decision reads, and the bar's close.

The day's loss is measured from the equity at the close of the bar before (bars are
trading days), the same rule the pre-trade check and the risk report use
(:func:`core.risk.state.build_portfolio_state`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy.orm import Session

from core.broker import LedgerBroker, portfolio_state
from core.paper.context import SessionContext
from core.paper.group import BarWrites
from core.paper.report import CycleReport, Summary
from core.paper.sizing import book_breaches
from core.risk import RiskLimits
from core.risk._kernels import euler_contributions, historical_var, parametric_var
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


def _ratio(used: float, limit: float) -> float:
    return float(used / limit) if math.isfinite(used) else float("nan")


def limit_utilization(
    state: PortfolioState, limits: RiskLimits, now: datetime | None = None
) -> dict[str, float]:
    """``portfolio_risk(state, limits, now).utilization``, computing only what the
    utilization reads (the same kernels, in the same order, so the same floats): no
    correlation frame, no CVaR, and only the VaR of ``limits.var_method``."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    equity = state.equity
    weights = {s: v / equity for s, v in state.position_values.items()} if equity > 0 else {}
    gross = state.gross_value / equity if equity > 0 else float("inf")
    net = state.net_value / equity if equity > 0 else float("inf")
    index, matrix, mean, cov = state._history
    held = [s for s in weights if s in index]
    nan = float("nan")
    var_used = nan
    shares: dict[str, float] = {}
    if matrix.shape[0] >= 2:
        w = state.weights_vector
        if limits.var_method == "historical":
            var_used = historical_var(matrix @ w)
        else:
            vol = math.sqrt(max(float(w @ cov @ w), 0.0))
            var_used = parametric_var(float(mean @ w), vol)
        if len(held) >= 2:  # the concentration limit applies to two or more assets
            cols = [index[s] for s in held]
            contrib = euler_contributions(w[cols], cov[np.ix_(cols, cols)])
            total = float(contrib.sum())
            pairs = zip(held, contrib, strict=True)
            shares = {s: (float(c) / total if total > 0 else nan) for s, c in pairs}
    recent = sum(1 for t in state.recent_order_times if now - timedelta(seconds=60) < t <= now)
    max_weight = max((abs(v) for v in weights.values()), default=0.0)
    max_share = max(shares.values(), default=0.0)
    return {
        "max_weight_per_asset": _ratio(max_weight, limits.max_weight_per_asset),
        "max_gross_exposure": _ratio(gross, limits.max_gross_exposure),
        "max_net_exposure": _ratio(abs(net), limits.max_net_exposure),
        "max_orders_per_minute": recent / limits.max_orders_per_minute,
        "max_daily_loss": _ratio(max(state.daily_loss, 0.0), limits.max_daily_loss),
        "max_drawdown": _ratio(state.drawdown, limits.max_drawdown),
        "var_limit_95": _ratio(max(var_used, 0.0), limits.var_limit_95),
        "max_concentration": _ratio(max_share, limits.max_concentration),
    }


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
