"""Backtesting: vectorbt-backed single and multi-asset runs, the execution convention, metrics.

Importing this package does not import vectorbt; :func:`run_backtest`,
:func:`run_portfolio_backtest` and :func:`warm_numba` import it on first use. Parameter
sweeps (the numpy kernel that reproduces these fills) live in :mod:`core.sweep`. Names are
imported from their submodule on first access (:mod:`core._lazy`), so
``from core.backtest.spec import BacktestSpec`` costs neither pandas nor numpy.
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.backtest import metrics
    from core.backtest.engine import TRADE_COLUMNS, BacktestResult, run_backtest
    from core.backtest.portfolio import PortfolioResult, rebalance_mask, run_portfolio_backtest
    from core.backtest.spec import EXECUTION, BacktestSpec, periods_per_year
    from core.backtest.warmup import warm_numba

__getattr__, __dir__ = attach(
    __name__,
    {
        "engine": ["TRADE_COLUMNS", "BacktestResult", "run_backtest"],
        "portfolio": ["PortfolioResult", "rebalance_mask", "run_portfolio_backtest"],
        "spec": ["EXECUTION", "BacktestSpec", "periods_per_year"],
        "warmup": ["warm_numba"],
    },
    submodules=["metrics"],
)

__all__ = [
    "EXECUTION",
    "TRADE_COLUMNS",
    "BacktestResult",
    "BacktestSpec",
    "PortfolioResult",
    "metrics",
    "periods_per_year",
    "rebalance_mask",
    "run_backtest",
    "run_portfolio_backtest",
    "warm_numba",
]
