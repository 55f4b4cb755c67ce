"""The pre-declared primary A/B test: a paired t-test of daily returns with a HAC error.

Every A/B verdict (the compare page, ``workbench abtest``, retraining promotions) is
decided by this one test, adjusted across pairs; all other tests are secondary.

The null hypothesis is "equal expected daily return": ``E[a_t - b_t] = 0``. The mean of
the daily differences ``d_t = a_t - b_t`` is divided by its Newey-West (1987) standard
error (Bartlett kernel; the larger of the plain and the AR(1)-prewhitened estimate),
which stays valid when ``d_t`` is autocorrelated (smoothed signals, overlapping
positions) or heteroskedastic (volatility clustering, exposure that switches on and off),
and needs only a finite variance (not a finite fourth moment, as Sharpe-ratio tests do),
so heavy tails do not break it. The
p-value is two-sided from Student's t with ``n - 1`` degrees of freedom. Without
prewhitening and with zero lags it is exactly the ordinary paired t-test.

Differences within floating-point noise (``|d| <= ZERO_TOL``) are set to exactly zero
first: two arms that hold the same position earn the same return, and rounding of
returns computed from equity ratios leaves ~1e-16 residues that are not a difference.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from core.abtest._data import TRADING_DAYS, ReturnsLike, align_pair
from core.abtest.results import TestResult, favoured

PRIMARY_TEST = "HAC paired t-test"
"""Name of the primary test, as it appears in result rows and verdicts."""

PRIMARY_RULE = (
    "paired t-test of daily return differences with a Newey-West (HAC) standard error "
    "(the larger of plain and AR(1)-prewhitened), two-sided, adjusted across pairs"
)
"""One-line statement of the decision rule (pages and the CLI show it)."""

_MAX_RHO = 0.97

ZERO_TOL = 1e-12
"""Daily return differences with ``|a - b| <= ZERO_TOL`` count as exactly zero.

Returns are simple fractions; rounding noise in them is ~1e-16 (the scale of ``1 + r``
times machine epsilon), and 1e-12 is a hundred-millionth of a basis point.
"""


def newey_west_lags(n: int) -> int:
    """Bartlett-kernel bandwidth of Newey & West (1994): ``floor(4 (n / 100) ** (2/9))``.

    >>> newey_west_lags(100), newey_west_lags(250), newey_west_lags(5030)
    (4, 4, 9)
    """
    if n < 2:
        raise ValueError(f"need at least 2 observations, got {n}")
    return int(min(n - 1, math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))))


def zero_noise(diff: np.ndarray, tol: float = ZERO_TOL) -> np.ndarray:
    """A copy of ``diff`` with entries ``|d| <= tol`` set to exactly 0.

    >>> zero_noise(np.array([4.4e-16, -1e-3, 0.0, -2e-13])).tolist()
    [0.0, -0.001, 0.0, 0.0]
    """
    out = np.array(diff, dtype=np.float64, copy=True)
    out[np.abs(out) <= tol] = 0.0
    return out


def long_run_variance(diff: np.ndarray, lags: int) -> np.ndarray:
    """Newey-West long-run variance of each column of ``diff`` (shape ``(n,)`` or ``(n, k)``).

    ``gamma_j = sum_t (d_t - m)(d_{t-j} - m) / n`` and
    ``lrv = (gamma_0 + 2 sum_{j=1}^{L} (1 - j / (L + 1)) gamma_j) * n / (n - 1)``;
    the factor ``n / (n - 1)`` makes ``L = 0`` the ordinary sample variance.

    >>> d = np.array([1.0, 2.0, 4.0, 3.0])
    >>> float(long_run_variance(d, 0)) == float(np.var(d, ddof=1))
    True
    """
    d = np.asarray(diff, dtype=np.float64)
    n = d.shape[0]
    centered = d - d.mean(axis=0)
    lrv = np.sum(centered * centered, axis=0) / n
    for j in range(1, lags + 1):
        weight = 1.0 - j / (lags + 1.0)
        lrv = lrv + 2.0 * weight * np.sum(centered[j:] * centered[:-j], axis=0) / n
    sample_lrv: np.ndarray = lrv * n / (n - 1.0)
    return sample_lrv


def ar1_coefficient(centered: np.ndarray) -> np.ndarray:
    """Least-squares AR(1) coefficient of each (centered) column, clipped to [-0.97, 0.97].

    A column that never varies gets 0.

    >>> float(ar1_coefficient(np.array([1.0, -1.0, 1.0, -1.0])))
    -0.97
    """
    c = np.asarray(centered, dtype=np.float64)
    num = np.sum(c[1:] * c[:-1], axis=0)
    den = np.sum(c[:-1] * c[:-1], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    clipped: np.ndarray = np.clip(rho, -_MAX_RHO, _MAX_RHO)
    return clipped


def hac_standard_error(diff: np.ndarray, lags: int, *, prewhiten: bool = True) -> np.ndarray:
    """Standard error of the mean of each column of ``diff``, robust to autocorrelation.

    Without ``prewhiten``: ``sqrt(lrv / n)`` with the Newey-West long-run variance
    (:func:`long_run_variance`). With ``prewhiten`` (the default) it is the larger of
    that and the AR(1)-prewhitened error (Andrews & Monahan, 1992): an AR(1) is fitted
    to the centered differences, the Newey-West variance is taken of its residuals
    ``e_t = c_t - rho c_{t-1}`` and recoloured, ``lrv_e / (1 - rho)**2``. Prewhitening
    keeps the size close to nominal under persistent autocorrelation, where the plain
    Bartlett kernel under-estimates the variance; the plain estimate guards against the
    prewhitened one collapsing on sparse, spiky differences (a few trade days), so
    neither failure can make the test liberal.
    """
    d = np.asarray(diff, dtype=np.float64)
    n = d.shape[0]
    plain: np.ndarray = np.sqrt(np.maximum(long_run_variance(d, lags), 0.0) / n)
    if not prewhiten:
        return plain
    centered = d - d.mean(axis=0)
    rho = ar1_coefficient(centered)
    resid = centered[1:] - rho * centered[:-1]
    lrv = np.maximum(long_run_variance(resid, lags), 0.0) / (1.0 - rho) ** 2
    standard_error: np.ndarray = np.maximum(plain, np.sqrt(lrv / n))
    return standard_error


def hac_t_kernel(
    diff: np.ndarray, lags: int | None = None, *, prewhiten: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, HAC standard error, t statistic and two-sided p-value per column of ``diff``.

    ``t = mean / se`` (:func:`hac_standard_error`), ``p = 2 * sf_t(|t|, n - 1)``.
    Columns whose differences are all equal have no sampling noise: p = 1 (t = 0) when
    they are all zero, else p = 0 (t = +-inf). ``lags`` defaults to
    :func:`newey_west_lags` of ``n``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(mean, se, t, p)``, each of shape ``diff.shape[1:]``.
    """
    d = np.asarray(diff, dtype=np.float64)
    n = d.shape[0]
    if n < 3:
        raise ValueError(f"need at least 3 observations, got {n}")
    lags = newey_west_lags(n) if lags is None else int(lags)
    if not 0 <= lags < n - 2:
        raise ValueError(f"lags must be in [0, {n - 3}], got {lags}")
    mean = d.mean(axis=0)
    se = hac_standard_error(d, lags, prewhiten=prewhiten)
    spread = np.max(d, axis=0) - np.min(d, axis=0)
    noisy = (spread > 0) & (se > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(noisy, mean / np.where(noisy, se, 1.0), np.sign(mean) * np.inf)
    t = np.where(~noisy & (mean == 0), 0.0, t)
    p = np.where(noisy, 2.0 * stats.t.sf(np.abs(t), df=n - 1), np.where(mean == 0, 1.0, 0.0))
    return mean, se, t, p


def hac_t_test(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    periods_per_year: float = TRADING_DAYS,
    lags: int | None = None,
    zero_tol: float = ZERO_TOL,
) -> TestResult:
    """The primary test on two return series (see the module docstring).

    Parameters
    ----------
    a, b : pandas.Series or numpy.ndarray
        Daily simple returns; Series are aligned on their dates.
    alpha : float
        Level of the ``1 - alpha`` interval and of ``favours`` (unadjusted).
    periods_per_year : float
        Bars per year, for the annualized mean difference.
    lags : int, optional
        Newey-West lags; default :func:`newey_west_lags`.
    zero_tol : float
        Differences with ``|d| <= zero_tol`` count as zero.

    Returns
    -------
    TestResult
        Named :data:`PRIMARY_TEST`; the estimate is the mean daily difference ``a - b``
        with its t interval, ``statistic`` the HAC t.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    arr_a, arr_b = align_pair(a, b)
    diff = zero_noise(arr_a - arr_b, zero_tol)
    n = diff.size
    used = newey_west_lags(n) if lags is None else int(lags)
    mean, se, t, p = (float(x) for x in hac_t_kernel(diff, used))
    half = float(stats.t.ppf(1.0 - alpha / 2.0, df=n - 1)) * se
    return TestResult(
        name=PRIMARY_TEST,
        statistic=t,
        p_value=p,
        estimate=mean,
        estimate_annualized=mean * periods_per_year,
        ci_low=mean - half,
        ci_high=mean + half,
        n=n,
        favours=favoured(mean, p, alpha),
        unit="mean daily return difference",
        note=(
            f"Newey-West, max(plain, AR(1)-prewhitened), {used} lags, t({n - 1}); "
            f"|d| <= {zero_tol:g} counted as 0"
        ),
    )
