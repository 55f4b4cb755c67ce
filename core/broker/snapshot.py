"""The risk layer's :class:`~core.risk.PortfolioState` of any broker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from core.broker.base import Broker
from core.risk.state import PortfolioState, build_portfolio_state


def portfolio_state(
    broker: Broker,
    *,
    bar: int | None = None,
    equity_at_close: Mapping[int, float] | None = None,
    peak_equity: float | None = None,
    recent_order_times: Sequence[datetime] = (),
    returns_history: pd.DataFrame | None = None,
    prices: Mapping[str, float] | None = None,
) -> PortfolioState:
    """One consistent snapshot of ``broker`` for the pre-trade check and the risk view
    (:func:`~core.risk.state.build_portfolio_state` from the broker's account).

    Parameters
    ----------
    broker
        Any broker.
    bar, equity_at_close, peak_equity
        Tracked by the caller (e.g. a paper session's equity snapshots): the day starts
        at the close of the last bar before ``bar``. Default: current equity, which
        disables the daily-loss and drawdown limits for this snapshot.
    recent_order_times
        Submission times of recent orders (``OrderRepository.submitted_since``).
    returns_history
        Daily returns per symbol for VaR and concentration.
    prices
        Prices to use first; then each position's market price, then
        ``broker.latest_price``.
    """
    account = broker.account()
    held = [p for p in broker.positions() if p.qty != 0]
    quoted = dict(prices or {})
    for p in held:
        if p.symbol not in quoted:
            quoted[p.symbol] = p.market_price or broker.latest_price(p.symbol) or p.avg_price
    return build_portfolio_state(
        equity=account.equity,
        cash=account.cash,
        positions={p.symbol: p.qty for p in held},
        prices=quoted,
        bar=bar,
        equity_at_close=equity_at_close,
        peak_equity=peak_equity,
        recent_order_times=recent_order_times,
        returns_history=returns_history,
    )
