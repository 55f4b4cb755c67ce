"""Single-asset backtests on real vectorbt (``Portfolio.from_orders``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import metrics as m
from core.backtest._prices import align_positions, as_price_frame, fill_prices
from core.backtest._vbt import import_vectorbt
from core.backtest.execution import held_targets, order_mask
from core.backtest.spec import EXECUTION, BacktestSpec

TRADE_COLUMNS: tuple[str, ...] = (
    "entry_date",
    "exit_date",
    "entry_price",
    "exit_price",
    "size",
    "pnl",
    "return",
    "direction",
    "status",
    "fees",
)


@dataclass(frozen=True, kw_only=True)
class BacktestResult:
    """Everything one backtest produced.

    Attributes
    ----------
    equity : Series
        Portfolio value at each bar's close.
    returns : Series
        Per-bar simple returns of ``equity`` (bar 0 against ``init_cash``).
    drawdown : Series
        Fractional distance below the running equity peak (<= 0).
    trades : DataFrame
        One row per position (entry to exit), columns :data:`TRADE_COLUMNS`.
    positions : Series
        Target positions as decided at each bar's close.
    held : Series
        Target held during each bar (``positions`` shifted one bar).
    weights : Series
        Realized exposure, ``position value / equity`` at each close.
    metrics : dict
        Scalar metrics (see :func:`core.backtest.metrics.summary`) plus trade statistics.
    execution : str
        The fill convention, :data:`core.backtest.EXECUTION`.
    spec : BacktestSpec
        The costs and capital used.
    """

    equity: pd.Series
    returns: pd.Series
    drawdown: pd.Series
    trades: pd.DataFrame
    positions: pd.Series
    held: pd.Series
    weights: pd.Series
    metrics: dict[str, float]
    spec: BacktestSpec
    execution: str = EXECUTION
    extra: dict[str, Any] = field(default_factory=dict)


def order_sizes(positions: np.ndarray) -> np.ndarray:
    """Target-percent order sizes for vectorbt: the held target where it changes, else NaN.

    >>> order_sizes(np.array([1.0, 1.0, 0.0, 0.0]))
    array([nan,  1., nan,  0.])
    """
    held = held_targets(positions)
    return np.where(order_mask(held), held, np.nan)


def _trades_frame(pf: Any) -> pd.DataFrame:
    records = pf.positions.records_readable
    if records.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in TRADE_COLUMNS})
    out = pd.DataFrame(
        {
            "entry_date": records["Entry Timestamp"],
            "exit_date": records["Exit Timestamp"].where(records["Status"] == "Closed"),
            "entry_price": records["Avg Entry Price"].astype(np.float64),
            "exit_price": records["Avg Exit Price"].astype(np.float64),
            "size": records["Size"].astype(np.float64),
            "pnl": records["PnL"].astype(np.float64),
            "return": records["Return"].astype(np.float64),
            "direction": records["Direction"].astype(str).str.lower(),
            "status": records["Status"].astype(str).str.lower(),
            "fees": (records["Entry Fees"] + records["Exit Fees"]).astype(np.float64),
        }
    )
    return out.reset_index(drop=True)


def run_backtest(
    prices: pd.DataFrame | pd.Series,
    positions: pd.Series,
    spec: BacktestSpec | None = None,
) -> BacktestResult:
    """Backtest target positions on one asset with vectorbt.

    Parameters
    ----------
    prices : DataFrame or Series
        Canonical price frame (``close`` required, ``open`` used for fills when present);
        a Series is taken as close.
    positions : Series
        Target fraction of equity in ``[-1, 1]`` decided at each bar's close; bars missing
        from ``prices``'s index are flat.
    spec : BacktestSpec, optional
        Costs and capital; defaults to ``BacktestSpec()``.

    Returns
    -------
    BacktestResult
        Filled per :data:`core.backtest.EXECUTION`: orders only where the target changes,
        ``Portfolio.from_orders(size_type="targetpercent", direction="both")``.
    """
    prices = as_price_frame(prices)
    spec = (spec or BacktestSpec()).for_index(prices.index)
    targets = align_positions(positions, prices.index)
    vbt = import_vectorbt()
    close = prices["close"].astype(np.float64)
    fill = pd.Series(fill_prices(prices), index=prices.index)
    sizes = pd.Series(order_sizes(targets.to_numpy()), index=prices.index)
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
        cash_sharing=False,
    )
    equity = pf.value().astype(np.float64).rename("equity")
    returns = pd.Series(
        m.returns_from_equity(equity.to_numpy(), spec.init_cash), index=prices.index, name="returns"
    )
    held = pd.Series(held_targets(targets.to_numpy()), index=prices.index, name="held")
    asset_value = pf.asset_value().astype(np.float64).to_numpy()
    weights = pd.Series(asset_value / equity.to_numpy(), index=prices.index, name="weights")
    trades = _trades_frame(pf)
    ppy = spec.periods_per_year
    metrics = {
        k: float(v)
        for k, v in {
            **m.equity_metrics(equity.to_numpy(), spec.init_cash, ppy),
            **m.position_metrics(held.to_numpy(), ppy),
        }.items()
    }
    pnl = trades["pnl"].to_numpy(dtype=np.float64)
    metrics["win_rate"] = m.win_rate(pnl)
    metrics["profit_factor"] = m.profit_factor(pnl)
    metrics["total_fees"] = float(trades["fees"].sum()) if len(trades) else 0.0
    metrics["final_equity"] = float(equity.iloc[-1])
    return BacktestResult(
        equity=equity,
        returns=returns,
        drawdown=pd.Series(m.drawdown(equity.to_numpy()), index=prices.index, name="drawdown"),
        trades=trades,
        positions=targets.rename("positions"),
        held=held,
        weights=weights,
        metrics=metrics,
        spec=spec,
    )
