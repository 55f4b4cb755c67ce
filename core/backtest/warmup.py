"""Compile vectorbt's numba kernels ahead of the first real backtest."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from core.backtest._vbt import freeze_long_lived
from core.backtest.engine import run_backtest
from core.backtest.portfolio import run_portfolio_backtest
from core.backtest.spec import BacktestSpec


def warm_numba() -> float:
    """Run tiny single- and multi-asset vectorbt backtests so numba compiles and caches,
    then freeze the objects they leave behind out of the garbage collector's scans.

    Returns
    -------
    float
        Seconds taken (including ``import vectorbt``).
    """
    start = time.perf_counter()
    index = pd.bdate_range("2020-01-01", periods=30, name="date")
    close = pd.Series(100.0 + np.sin(np.arange(30.0)), index=index)
    prices = pd.DataFrame({"open": close.shift(1).fillna(100.0), "close": close})
    positions = pd.Series(np.where(np.arange(30) % 6 < 3, 1.0, -1.0), index=index)
    run_backtest(prices, positions, BacktestSpec())
    weights = pd.DataFrame({"a": 0.5, "b": -0.3}, index=index)
    run_portfolio_backtest({"a": prices, "b": prices * 1.1}, weights, BacktestSpec(), rebalance="W")
    freeze_long_lived()  # the compiled kernels live as long as the process
    return time.perf_counter() - start
