"""Paired tests on daily return differences and the Jobson-Korkie-Memmel Sharpe test."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from core.abtest._data import TRADING_DAYS, ReturnsLike, align_pair
from core.abtest.primary import ZERO_TOL, zero_noise
from core.abtest.results import TestResult, favoured

_REL_TOL = 1e-12

WILCOXON_ZERO_METHOD = "wilcox"
"""scipy's ``zero_method``: zero differences are dropped before ranking (Wilcoxon, 1945)."""


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def _t_test(
    a: np.ndarray, b: np.ndarray, alpha: float, periods_per_year: float, zero_tol: float
) -> TestResult:
    diff = zero_noise(a - b, zero_tol)
    n = diff.size
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    if sd <= _REL_TOL * abs(mean) or sd == 0.0:
        # Constant differences: no sampling noise at all.
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p_value = 1.0 if mean == 0.0 else 0.0
        ci_low = ci_high = mean
    else:
        res = stats.ttest_1samp(diff, 0.0)
        ci = res.confidence_interval(1.0 - alpha)
        statistic, p_value = float(res.statistic), float(res.pvalue)
        ci_low, ci_high = float(ci.low), float(ci.high)
    return TestResult(
        name="paired t-test",
        statistic=statistic,
        p_value=p_value,
        estimate=mean,
        estimate_annualized=mean * periods_per_year,
        ci_low=ci_low,
        ci_high=ci_high,
        n=n,
        favours=favoured(mean, p_value, alpha),
        unit="mean daily return difference",
        note=f"i.i.d. errors; |d| <= {zero_tol:g} counted as 0",
    )


def _signed_rank_sum(diff: np.ndarray) -> float:
    """``W+ - W-``: the sum of signed ranks of the non-zero ``|diff|``.

    >>> _signed_rank_sum(np.array([1.0, -2.0, 3.0, 0.0]))
    2.0
    """
    nonzero = diff[diff != 0]
    ranks = stats.rankdata(np.abs(nonzero))
    return float(np.sum(np.sign(nonzero) * ranks))


def _wilcoxon(a: np.ndarray, b: np.ndarray, alpha: float, zero_tol: float) -> TestResult:
    diff = zero_noise(a - b, zero_tol)
    n = diff.size
    median = float(np.median(diff))
    if not np.any(diff != 0):
        statistic, p_value, direction = 0.0, 1.0, 0.0
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.simplefilter("ignore", category=RuntimeWarning)
            res = stats.wilcoxon(diff, zero_method=WILCOXON_ZERO_METHOD, alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
        direction = _signed_rank_sum(diff)
    return TestResult(
        name="Wilcoxon signed-rank",
        statistic=statistic,
        p_value=p_value,
        estimate=median,
        n=n,
        favours=favoured(direction, p_value, alpha),
        unit="median daily return difference",
        note=(
            f"zero_method={WILCOXON_ZERO_METHOD!r}: {int(np.count_nonzero(diff == 0))} zero "
            f"differences (|d| <= {zero_tol:g}) dropped"
        ),
    )


def paired_tests(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    periods_per_year: float = TRADING_DAYS,
    zero_tol: float = ZERO_TOL,
) -> list[TestResult]:
    """Paired t-test and Wilcoxon signed-rank test on the daily differences ``a - b``.

    Both are secondary tests (the primary one is
    :func:`core.abtest.primary.hac_t_test`). Differences with ``|d| <= zero_tol`` are
    floating-point noise and count as exactly zero; Wilcoxon then drops the zeros
    (``zero_method="wilcox"``), so rounding residues on days both arms hold the same
    position cannot drive its p-value.

    Parameters
    ----------
    a, b : pandas.Series or numpy.ndarray
        Daily simple returns of strategies A and B. Series are aligned on their dates.
    alpha : float
        Significance level for ``favours`` and the t-test's ``1 - alpha`` interval.
    periods_per_year : float
        Bars per year, for the annualized mean difference.
    zero_tol : float
        Absolute tolerance on daily return differences (default 1e-12).

    Returns
    -------
    list of TestResult
        ``[t-test, Wilcoxon]``. The t-test estimate is the mean daily difference (its CI
        from the t distribution); Wilcoxon's is the median daily difference and its
        ``favours`` follows the sign of the signed-rank sum. Identical series give
        p-value 1 rather than NaN.
    """
    _check_alpha(alpha)
    arr_a, arr_b = align_pair(a, b)
    return [
        _t_test(arr_a, arr_b, alpha, periods_per_year, zero_tol),
        _wilcoxon(arr_a, arr_b, alpha, zero_tol),
    ]


def jkm_statistic(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Memmel-corrected Jobson-Korkie z statistic and its standard error.

    With daily Sharpe ratios ``s_a, s_b`` (sample std, ``ddof=1``), correlation ``rho``
    and ``T`` days, Memmel (2003) gives

    ``theta = (2 - 2 rho + (s_a**2 + s_b**2 - 2 s_a s_b rho**2) / 2) / T``,
    ``z = (s_a - s_b) / sqrt(theta)``.

    Returns ``(z, sqrt(theta))``; ``(0, 0)`` for identical series, NaN when a series
    never varies.

    >>> a = np.array([0.01, 0.02, -0.01, 0.0, 0.015, -0.005])
    >>> b = np.array([0.0, 0.01, -0.02, 0.01, 0.0, 0.005])
    >>> s_a, s_b = a.mean() / a.std(ddof=1), b.mean() / b.std(ddof=1)
    >>> rho = np.corrcoef(a, b)[0, 1]
    >>> theta = (2 - 2 * rho + 0.5 * (s_a**2 + s_b**2 - 2 * s_a * s_b * rho**2)) / 6
    >>> z, se = jkm_statistic(a, b)
    >>> bool(np.isclose(z, (s_a - s_b) / np.sqrt(theta)))
    True
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    sd_a, sd_b = a.std(ddof=1), b.std(ddof=1)
    if sd_a == 0 or sd_b == 0:
        return math.nan, math.nan
    s_a, s_b = a.mean() / sd_a, b.mean() / sd_b
    if np.array_equal(a, b):
        return 0.0, 0.0
    rho = float(np.corrcoef(a, b)[0, 1])
    theta = (2.0 - 2.0 * rho + 0.5 * (s_a**2 + s_b**2 - 2.0 * s_a * s_b * rho**2)) / a.size
    se = math.sqrt(max(theta, 0.0))
    diff = float(s_a - s_b)
    if se == 0.0:
        return (0.0 if diff == 0 else math.copysign(math.inf, diff)), 0.0
    return diff / se, se


def sharpe_difference_jkm(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    periods_per_year: float = TRADING_DAYS,
) -> TestResult:
    """Jobson-Korkie test of equal Sharpe ratios with Memmel's (2003) correction.

    The statistic is asymptotically standard normal under equal Sharpe ratios (it
    assumes i.i.d. normal returns; fat tails make it somewhat liberal). See
    :func:`jkm_statistic` for the formula.

    Returns
    -------
    TestResult
        ``statistic`` is z, ``p_value`` two-sided; ``estimate`` and the normal CI are the
        annualized Sharpe difference ``SR(A) - SR(B)``.
    """
    _check_alpha(alpha)
    arr_a, arr_b = align_pair(a, b)
    z, se = jkm_statistic(arr_a, arr_b)
    scale = math.sqrt(periods_per_year)
    if math.isnan(z):
        estimate = p_value = math.nan
        ci_low = ci_high = None
    else:
        estimate = float(arr_a.mean() / arr_a.std(ddof=1) - arr_b.mean() / arr_b.std(ddof=1))
        p_value = float(2.0 * stats.norm.sf(abs(z)))
        half = float(stats.norm.ppf(1.0 - alpha / 2.0)) * se
        ci_low, ci_high = (estimate - half) * scale, (estimate + half) * scale
        estimate *= scale
    return TestResult(
        name="Sharpe difference (JKM)",
        statistic=z,
        p_value=p_value,
        estimate=estimate,
        estimate_annualized=estimate,
        ci_low=ci_low,
        ci_high=ci_high,
        n=arr_a.size,
        favours=favoured(estimate, p_value, alpha),
        unit="annualized Sharpe difference",
    )
