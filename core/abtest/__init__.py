"""A/B testing of strategies and models on the same data and period.

Every verdict is decided by ONE primary test, :data:`PRIMARY_TEST` (paired t-test of
daily returns with a Newey-West HAC error, adjusted across pairs); the rest are secondary.

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
from core.abtest.primary import (
    PRIMARY_RULE,
    PRIMARY_TEST,
    ZERO_TOL,
    hac_t_kernel,
    hac_t_test,
    newey_west_lags,
)
from core.abtest.results import TestResult
from core.abtest.sequential import SPRT, SPRTRun, obrien_fleming_boundaries

__all__ = [
    "MIN_OBS",
    "PRIMARY_RULE",
    "PRIMARY_TEST",
    "SPRT",
    "ZERO_TOL",
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
    "hac_t_kernel",
    "hac_t_test",
    "jkm_statistic",
    "max_drawdown_difference",
    "min_sample_size",
    "min_sample_size_sharpe",
    "newey_west_lags",
    "obrien_fleming_boundaries",
    "paired_tests",
    "sharpe_difference",
    "sharpe_difference_jkm",
    "stationary_bootstrap_indices",
    "win_rate_difference",
]
