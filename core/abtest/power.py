"""Minimum sample sizes for detecting a difference between two strategies."""

from __future__ import annotations

import math
import warnings

from scipy import stats
from statsmodels.stats.power import TTestPower

from core.abtest._data import TRADING_DAYS


def _check_levels(alpha: float, power: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not alpha < power < 1.0:
        raise ValueError(f"power must be in (alpha, 1), got {power}")


def min_sample_size(
    effect_daily_mean_diff: float,
    daily_diff_std: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Days a two-sided paired t-test needs to detect a mean daily difference.

    Solves statsmodels' :class:`~statsmodels.stats.power.TTestPower` for ``nobs`` at the
    standardized effect ``|effect| / std`` and rounds up.

    Parameters
    ----------
    effect_daily_mean_diff : float
        Mean of the daily differences ``a - b`` to detect (non-zero).
    daily_diff_std : float
        Standard deviation of the daily differences (> 0).
    alpha, power : float
        Two-sided significance level and the desired power.

    Examples
    --------
    An edge of 0.1 standard deviations a day needs about 787 days at 80% power:

    >>> min_sample_size(0.001, 0.01)
    787
    """
    _check_levels(alpha, power)
    if not daily_diff_std > 0 or not math.isfinite(daily_diff_std):
        raise ValueError(f"daily_diff_std must be finite and > 0, got {daily_diff_std}")
    if effect_daily_mean_diff == 0 or not math.isfinite(effect_daily_mean_diff):
        raise ValueError("effect_daily_mean_diff must be finite and non-zero")
    effect_size = abs(effect_daily_mean_diff) / daily_diff_std
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nobs = TTestPower().solve_power(
            effect_size=effect_size, nobs=None, alpha=alpha, power=power, alternative="two-sided"
        )
    nobs = float(nobs)
    if not math.isfinite(nobs) or nobs <= 0:  # solver failure: normal approximation
        z = stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)
        nobs = (z / effect_size) ** 2
    required: int = max(2, math.ceil(nobs))
    return required


def min_sample_size_sharpe(
    sharpe_difference: float,
    *,
    sharpe_b: float = 0.0,
    correlation: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    periods_per_year: float = TRADING_DAYS,
) -> int:
    """Days the Jobson-Korkie-Memmel test needs to detect a Sharpe difference.

    With daily Sharpe ratios ``s_b = sharpe_b / sqrt(P)`` and ``s_a = s_b + d``,
    ``d = sharpe_difference / sqrt(P)``, the test's variance is ``theta_1 / T`` with
    ``theta_1 = 2 - 2 rho + (s_a**2 + s_b**2 - 2 s_a s_b rho**2) / 2``, so

    ``T = (z_{1 - alpha/2} + z_{power})**2 * theta_1 / d**2``.

    Parameters
    ----------
    sharpe_difference : float
        Annualized Sharpe difference ``SR(A) - SR(B)`` to detect (non-zero).
    sharpe_b : float
        Annualized Sharpe ratio of B.
    correlation : float
        Correlation of the two strategies' daily returns, in (-1, 1).
    alpha, power : float
        Two-sided significance level and the desired power.
    periods_per_year : float
        Bars per year.

    Examples
    --------
    A Sharpe difference of 1 between uncorrelated strategies takes ~16 years of days:

    >>> min_sample_size_sharpe(1.0)
    3960
    """
    _check_levels(alpha, power)
    if sharpe_difference == 0 or not math.isfinite(sharpe_difference):
        raise ValueError("sharpe_difference must be finite and non-zero")
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"correlation must be in (-1, 1), got {correlation}")
    root = math.sqrt(periods_per_year)
    s_b = sharpe_b / root
    d = sharpe_difference / root
    s_a = s_b + d
    theta = 2.0 - 2.0 * correlation + 0.5 * (s_a**2 + s_b**2 - 2.0 * s_a * s_b * correlation**2)
    z = stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power)
    required: int = max(2, math.ceil(z**2 * theta / d**2))
    return required
