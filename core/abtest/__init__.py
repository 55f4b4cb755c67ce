"""A/B testing of strategies and models on the same data and period.

Pure functions over aligned daily return Series: paired t and Wilcoxon tests, the
Jobson-Korkie-Memmel Sharpe test, stationary-bootstrap intervals, multiple-testing
adjusted pairwise comparison with a verdict in words, sample-size planning, and
sequential early stopping (Wald's SPRT, O'Brien-Fleming boundaries) for live shadow tests.
"""

from core.abtest._data import MIN_OBS
from core.abtest.bootstrap import (
    BootstrapResult,
    bootstrap_ci,
    bootstrap_max_drawdown_difference,
    bootstrap_sharpe_difference,
    bootstrap_win_rate_difference,
    default_mean_block,
    max_drawdown_difference,
    sharpe_difference,
    stationary_bootstrap_indices,
    win_rate_difference,
)
from core.abtest.comparison import CompareSpec, ComparisonResult, ComparisonRow, compare
from core.abtest.paired import jkm_statistic, paired_tests, sharpe_difference_jkm
from core.abtest.power import min_sample_size, min_sample_size_sharpe
from core.abtest.results import TestResult
from core.abtest.sequential import SPRT, SPRTRun, obrien_fleming_boundaries

__all__ = [
    "MIN_OBS",
    "SPRT",
    "BootstrapResult",
    "CompareSpec",
    "ComparisonResult",
    "ComparisonRow",
    "SPRTRun",
    "TestResult",
    "bootstrap_ci",
    "bootstrap_max_drawdown_difference",
    "bootstrap_sharpe_difference",
    "bootstrap_win_rate_difference",
    "compare",
    "default_mean_block",
    "jkm_statistic",
    "max_drawdown_difference",
    "min_sample_size",
    "min_sample_size_sharpe",
    "obrien_fleming_boundaries",
    "paired_tests",
    "sharpe_difference",
    "sharpe_difference_jkm",
    "stationary_bootstrap_indices",
    "win_rate_difference",
]
