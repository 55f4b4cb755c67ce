"""Backtesting: vectorbt-backed single and multi-asset runs, pure-numpy sweeps, metrics.

Importing this package does not import vectorbt; :func:`run_backtest`,
:func:`run_portfolio_backtest` and :func:`warm_numba` import it on first use, while the
sweep path never needs it.
"""

from core.backtest import metrics
from core.backtest.engine import TRADE_COLUMNS, BacktestResult, run_backtest, warm_numba
from core.backtest.portfolio import PortfolioResult, rebalance_mask, run_portfolio_backtest
from core.backtest.spec import EXECUTION, BacktestSpec, periods_per_year
from core.backtest.sweep import (
    LOWER_IS_BETTER,
    METRICS,
    SweepResult,
    equity_curves,
    grid_size,
    sweep,
    sweep_ma_crossover,
)

__all__ = [
    "EXECUTION",
    "LOWER_IS_BETTER",
    "METRICS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "BacktestSpec",
    "PortfolioResult",
    "SweepResult",
    "equity_curves",
    "grid_size",
    "metrics",
    "periods_per_year",
    "rebalance_mask",
    "run_backtest",
    "run_portfolio_backtest",
    "sweep",
    "sweep_ma_crossover",
    "warm_numba",
]
