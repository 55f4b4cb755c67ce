"""Multi-asset backtests with shared cash on real vectorbt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.backtest import metrics as m
from core.backtest._prices import as_price_frame, fill_prices
from core.backtest._vbt import import_vectorbt
from core.backtest.spec import EXECUTION, BacktestSpec

Rebalance = Literal["W", "M"] | None


@dataclass(frozen=True, kw_only=True)
class PortfolioResult:
    """Outcome of :func:`run_portfolio_backtest`.

    Attributes
    ----------
    equity, returns, drawdown : Series
        Portfolio value, per-bar returns and drawdown of the whole (cash-sharing) book.
    weights : DataFrame
        Realized weight of each asset (position value / portfolio value) at each close.
    target_weights : DataFrame
        Targets held during each bar (input weights, aligned and shifted one bar).
    orders : DataFrame
        Every fill: date, asset, side, size, price, fees.
    rebalance_dates : DatetimeIndex
        Bars on which orders were sent.
    metrics : dict
        Scalar metrics of the book.
    """

    equity: pd.Series
    returns: pd.Series
    drawdown: pd.Series
    weights: pd.DataFrame
    target_weights: pd.DataFrame
    orders: pd.DataFrame
    rebalance_dates: pd.DatetimeIndex
    metrics: dict[str, float]
    spec: BacktestSpec
    execution: str = EXECUTION


def _panels(
    prices: Mapping[str, pd.DataFrame | pd.Series] | pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Close and fill-price panels (bars x assets) on the common bars of all assets."""
    if isinstance(prices, pd.DataFrame):
        close = prices.astype(np.float64)
        for col in close.columns:
            as_price_frame(close[col].rename("close"))
        return close, close.copy()
    if not prices:
        raise ValueError("prices is empty")
    frames = {name: as_price_frame(frame) for name, frame in prices.items()}
    index = None
    for frame in frames.values():
        index = frame.index if index is None else index.intersection(frame.index)
    if index is None or len(index) < 2:
        raise ValueError("assets share fewer than 2 bars")
    close = pd.DataFrame({n: f["close"].reindex(index) for n, f in frames.items()}, dtype=float)
    fill = pd.DataFrame(
        {n: pd.Series(fill_prices(f), index=f.index).reindex(index) for n, f in frames.items()},
        dtype=float,
    )
    return close, fill


def rebalance_mask(held: pd.DataFrame, rebalance: Rebalance) -> np.ndarray:
    """Bars on which orders are sent.

    ``None``: every bar whose held targets differ from the bar before (start flat).
    ``"W"``/``"M"``: the first bar of each week/month (filling the targets decided at the
    previous period's last close), plus bar 1 for the initial allocation.
    """
    values = held.to_numpy()
    prev = np.zeros_like(values)
    prev[1:] = values[:-1]
    changed = np.any(values != prev, axis=1)
    if rebalance is None:
        out: np.ndarray = changed
        return out
    if rebalance not in ("W", "M"):
        raise ValueError(f"rebalance must be 'W', 'M' or None, got {rebalance!r}")
    index = pd.DatetimeIndex(held.index)
    period = index.to_period(rebalance).asi8 if rebalance == "M" else index.to_period("W").asi8
    new_period = np.zeros(len(index), dtype=bool)
    new_period[1:] = period[1:] != period[:-1]
    new_period[1] = True
    out = new_period & (np.any(values != 0, axis=1) | np.any(prev != 0, axis=1))
    return out


def run_portfolio_backtest(
    prices: Mapping[str, pd.DataFrame | pd.Series] | pd.DataFrame,
    target_weights: pd.DataFrame,
    spec: BacktestSpec | None = None,
    rebalance: Rebalance = None,
) -> PortfolioResult:
    """Backtest target weights over several assets sharing one cash account.

    Parameters
    ----------
    prices : mapping of name to price frame, or DataFrame
        Per-asset canonical frames (fills at ``open`` when present), or a close panel
        (bars x assets; fills at close). Only bars common to all assets are used.
    target_weights : DataFrame
        Target fraction of portfolio value per asset (columns must be assets), decided
        at each bar's close; long (+) or short (-); ``sum(|w|) <= 1`` on every bar.
        Missing bars carry the last weights forward; missing assets are 0.
    spec : BacktestSpec, optional
        Costs and capital.
    rebalance : {"W", "M", None}
        ``None`` sends orders whenever the targets change; ``"W"``/``"M"`` only at the
        start of each week/month (weights drift in between).

    Returns
    -------
    PortfolioResult
        Simulated with ``vbt.Portfolio.from_orders(size_type="targetpercent",
        group_by=True, cash_sharing=True, call_seq="auto")`` so sells fund buys.
    """
    close, fill = _panels(prices)
    spec = (spec or BacktestSpec()).for_index(close.index)
    unknown = set(target_weights.columns) - set(close.columns)
    if unknown:
        raise ValueError(f"target_weights has assets without prices: {sorted(unknown)}")
    weights = (
        target_weights.reindex(columns=close.columns)
        .astype(np.float64)
        .reindex(close.index)
        .ffill()
        .fillna(0.0)
    )
    gross = weights.abs().sum(axis=1).to_numpy()
    if not np.all(np.isfinite(weights.to_numpy())) or np.any(gross > 1.0 + 1e-9):
        worst = weights.index[int(np.nanargmax(gross))]
        raise ValueError(
            f"gross weight sum(|w|) must be <= 1 on every bar; {worst} has {gross.max():.4f}"
        )
    held = weights.shift(1).fillna(0.0)
    mask = rebalance_mask(held, rebalance)
    sizes = held.where(pd.Series(mask, index=held.index), np.nan, axis=0)
    vbt = import_vectorbt()
    pf = vbt.Portfolio.from_orders(
        close=close,
        size=sizes,
        price=fill,
        size_type="targetpercent",
        direction="both",
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
        freq=spec.freq,
        group_by=True,
        cash_sharing=True,
        call_seq="auto",
    )
    equity = pf.value().astype(np.float64).rename("equity")
    returns = pd.Series(
        m.returns_from_equity(equity.to_numpy(), spec.init_cash), index=close.index, name="returns"
    )
    asset_value = pf.asset_value(group_by=False).astype(np.float64)
    realized = asset_value.div(equity, axis=0)
    realized.columns = close.columns
    ppy = spec.periods_per_year
    held_values = held.to_numpy()
    metrics = {
        k: float(v) for k, v in m.equity_metrics(equity.to_numpy(), spec.init_cash, ppy).items()
    }
    per_asset = m.position_metrics(held_values, ppy)
    metrics["n_trades"] = float(per_asset["n_trades"].sum())
    metrics["turnover"] = float(per_asset["turnover"].sum())
    metrics["exposure"] = float(m.exposure(np.abs(held_values).sum(axis=1)))
    metrics["final_equity"] = float(equity.iloc[-1])
    records = pf.orders.records_readable
    orders = pd.DataFrame(
        {
            "date": records["Timestamp"],
            "asset": records["Column"],
            "side": records["Side"].astype(str).str.lower(),
            "size": records["Size"].astype(np.float64),
            "price": records["Price"].astype(np.float64),
            "fees": records["Fees"].astype(np.float64),
        }
    ).reset_index(drop=True)
    metrics["total_fees"] = float(orders["fees"].sum())
    return PortfolioResult(
        equity=equity,
        returns=returns,
        drawdown=pd.Series(m.drawdown(equity.to_numpy()), index=close.index, name="drawdown"),
        weights=realized,
        target_weights=held,
        orders=orders,
        rebalance_dates=pd.DatetimeIndex(close.index[mask]),
        metrics=metrics,
        spec=spec,
    )
