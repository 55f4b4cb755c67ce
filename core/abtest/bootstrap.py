"""Politis-Romano stationary bootstrap of paired return series.

The index generator is a small numpy kernel; statistics are functions of two arrays of
shape ``(T,)`` or ``(T, k)`` (one column per bootstrap replicate) that reduce along
axis 0, like :mod:`core.backtest.metrics`, so all replicates of a chunk are computed at
once.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict

from core.abtest._data import TRADING_DAYS, ReturnsLike, align_pair
from core.abtest.primary import ZERO_TOL
from core.abtest.results import TestResult, favoured
from core.backtest import metrics

PairStatistic = Callable[[np.ndarray, np.ndarray], np.ndarray]
ChunkDone = Callable[[int, int], None]
"""``on_chunk(done, total)``: replicates computed so far out of ``total``, called after each
chunk; it may raise (e.g. a cancellation) to stop the bootstrap. It never changes a number."""

_CHUNK_ELEMENTS = 2_000_000  # resampled values held in memory at once, per series


def default_mean_block(n: int) -> float:
    """Default mean block length, ``n ** (1/3)`` rounded, at least 1.

    >>> default_mean_block(1000), default_mean_block(5)
    (10.0, 2.0)
    """
    return float(max(1, round(n ** (1.0 / 3.0))))


def stationary_bootstrap_indices(
    n: int, mean_block: float, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Index rows of the stationary bootstrap (Politis & Romano, 1994).

    Each row resamples ``range(n)`` in blocks that start at a uniform random position
    and have geometric lengths with mean ``mean_block`` (a new block starts at each step
    with probability ``1 / mean_block``); blocks wrap around the end of the sample.

    Parameters
    ----------
    n : int
        Sample length.
    mean_block : float
        Expected block length, >= 1 (1 is the i.i.d. bootstrap).
    n_boot : int
        Number of replicates (rows).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        Integer array of shape ``(n_boot, n)``.

    Examples
    --------
    >>> idx = stationary_bootstrap_indices(6, 1e9, 1, np.random.default_rng(0))
    >>> bool(np.all(np.diff(idx[0]) % 6 == 1))  # one block: consecutive, wrapping
    True
    """
    if n < 1 or n_boot < 1:
        raise ValueError(f"n and n_boot must be >= 1, got n={n}, n_boot={n_boot}")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block must be >= 1, got {mean_block}")
    starts = rng.integers(0, n, size=(n_boot, n))
    new_block = rng.random((n_boot, n)) < 1.0 / mean_block
    new_block[:, 0] = True
    steps = np.arange(n)
    block_begin = np.maximum.accumulate(np.where(new_block, steps, 0), axis=1)
    first = np.take_along_axis(starts, block_begin, axis=1)
    return (first + (steps - block_begin)) % n


class BootstrapResult(BaseModel):
    """Percentile interval and bootstrap p-value of a paired statistic.

    ``p_value`` is the two-sided percentile p-value for "statistic = 0", the smallest
    level whose percentile interval excludes 0 (so it agrees with the interval):
    ``min(1, 2 * min(1 + #{s* <= 0}, 1 + #{s* >= 0}) / (1 + B))`` over the ``B``
    finite replicates ``s*``; it is 1 when every replicate is 0.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    std_error: float
    n_boot: int
    mean_block: float
    n: int


def bootstrap_ci(
    stat_fn: PairStatistic,
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    n_boot: int = 2000,
    mean_block: float | None = None,
    alpha: float = 0.05,
    seed: int | None = 0,
    on_chunk: ChunkDone | None = None,
) -> BootstrapResult:
    """Stationary-bootstrap percentile CI for ``stat_fn(a, b)``.

    Both series are resampled with the same indices, which keeps their daily pairing
    and cross-correlation.

    Parameters
    ----------
    stat_fn : callable
        ``stat_fn(a, b)`` on arrays of shape ``(T,)`` or ``(T, k)`` returning a scalar or
        shape ``(k,)`` (reduce along axis 0), e.g. :func:`sharpe_difference`.
    a, b : pandas.Series or numpy.ndarray
        Daily returns; Series are aligned on their dates.
    n_boot : int
        Number of bootstrap replicates.
    mean_block : float, optional
        Mean block length; default :func:`default_mean_block` (``~ n ** (1/3)``).
    alpha : float
        The interval is ``1 - alpha``.
    seed : int, optional
        Seed of the random generator.
    on_chunk : callable, optional
        ``on_chunk(done, n_boot)`` after each chunk of replicates (see :data:`ChunkDone`);
        the chunks are fixed by the sample length, so results are the same with or without.

    Returns
    -------
    BootstrapResult
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_boot < 10:
        raise ValueError(f"n_boot must be >= 10, got {n_boot}")
    arr_a, arr_b = align_pair(a, b)
    n = arr_a.size
    block = default_mean_block(n) if mean_block is None else float(mean_block)
    rng = np.random.default_rng(seed)
    estimate = float(stat_fn(arr_a, arr_b))
    chunk = max(1, _CHUNK_ELEMENTS // n)
    replicates = np.empty(n_boot)
    for lo in range(0, n_boot, chunk):
        hi = min(n_boot, lo + chunk)
        idx = stationary_bootstrap_indices(n, block, hi - lo, rng).T
        replicates[lo:hi] = stat_fn(arr_a[idx], arr_b[idx])
        if on_chunk is not None:
            on_chunk(hi, n_boot)
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0 or not math.isfinite(estimate):
        nan = math.nan
        return BootstrapResult(
            estimate=estimate, ci_low=nan, ci_high=nan, p_value=nan, std_error=nan,
            n_boot=n_boot, mean_block=block, n=n,
        )  # fmt: skip
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    below = (1.0 + np.count_nonzero(finite <= 0.0)) / (1.0 + finite.size)
    above = (1.0 + np.count_nonzero(finite >= 0.0)) / (1.0 + finite.size)
    p_value = min(1.0, 2.0 * min(below, above))
    return BootstrapResult(
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(p_value),
        std_error=float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        n_boot=n_boot,
        mean_block=block,
        n=n,
    )


def sharpe_difference(
    a: np.ndarray, b: np.ndarray, periods_per_year: float = TRADING_DAYS
) -> np.ndarray:
    """Annualized Sharpe ratio of ``a`` minus that of ``b`` (per column).

    >>> a = np.array([0.01, 0.02, -0.01, 0.0])
    >>> round(float(sharpe_difference(a, a / 2 - 0.005, 1.0)), 6)
    0.774597
    """
    difference: np.ndarray = metrics.sharpe_ratio(a, periods_per_year) - metrics.sharpe_ratio(
        b, periods_per_year
    )
    return difference


def max_drawdown_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Max drawdown of ``a`` minus that of ``b``; positive when ``a``'s is shallower.

    >>> round(float(max_drawdown_difference(np.array([0.1, -0.1]), np.array([0.1, -0.2]))), 6)
    0.1
    """
    difference: np.ndarray = metrics.max_drawdown(a) - metrics.max_drawdown(b)
    return difference


def win_rate_difference(a: np.ndarray, b: np.ndarray, tol: float = ZERO_TOL) -> np.ndarray:
    """Share of winning days of ``a`` minus that of ``b``, on days both are in the market.

    A day counts only when both arms have a non-zero return (``|r| > tol``), i.e. both
    hold a position, so a flat day is neither a win nor a loss and time in the market
    is not rewarded. NaN when the arms never share a market day.

    >>> a = np.array([0.1, -0.1, 0.2, 0.0, 0.3])
    >>> b = np.array([0.1, 0.2, -0.1, 0.4, 0.0])
    >>> float(win_rate_difference(a, b))  # shared days 0-2: 2/3 - 2/3
    0.0
    >>> round(float(win_rate_difference(a, np.array([0.1, 0.2, 0.1, 0.4, 0.0]))), 4)
    -0.3333
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    shared = (np.abs(a) > tol) & (np.abs(b) > tol)
    days = np.sum(shared, axis=0)
    wins = np.sum(shared & (a > 0), axis=0) - np.sum(shared & (b > 0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(days > 0, wins / np.where(days > 0, days, 1), np.nan)


def _bootstrap_test(
    name: str,
    unit: str,
    stat_fn: PairStatistic,
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float,
    n_boot: int,
    mean_block: float | None,
    seed: int | None,
    annualized: bool,
    on_chunk: ChunkDone | None,
) -> TestResult:
    res = bootstrap_ci(
        stat_fn, a, b, n_boot=n_boot, mean_block=mean_block, alpha=alpha, seed=seed,
        on_chunk=on_chunk,
    )  # fmt: skip
    return TestResult(
        name=name,
        statistic=res.estimate,
        p_value=res.p_value,
        estimate=res.estimate,
        estimate_annualized=res.estimate if annualized else None,
        ci_low=res.ci_low,
        ci_high=res.ci_high,
        n=res.n,
        favours=favoured(res.estimate, res.p_value, alpha),
        unit=unit,
    )


def bootstrap_sharpe_difference(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    mean_block: float | None = None,
    seed: int | None = 0,
    periods_per_year: float = TRADING_DAYS,
    on_chunk: ChunkDone | None = None,
) -> TestResult:
    """Stationary-bootstrap CI and p-value for the annualized Sharpe difference A - B."""

    def stat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return sharpe_difference(x, y, periods_per_year)

    return _bootstrap_test(
        "Sharpe difference (bootstrap)", "annualized Sharpe difference", stat, a, b,
        alpha=alpha, n_boot=n_boot, mean_block=mean_block, seed=seed, annualized=True,
        on_chunk=on_chunk,
    )  # fmt: skip


def bootstrap_max_drawdown_difference(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    mean_block: float | None = None,
    seed: int | None = 0,
    on_chunk: ChunkDone | None = None,
) -> TestResult:
    """Stationary-bootstrap CI and p-value for max drawdown A - B (positive: A shallower).

    Resampled blocks shorten the long runs that make deep drawdowns, so the interval is
    a rough guide, wider in practice for long samples than for short ones.
    """
    return _bootstrap_test(
        "max drawdown difference (bootstrap)", "max drawdown difference (fraction)",
        max_drawdown_difference, a, b,
        alpha=alpha, n_boot=n_boot, mean_block=mean_block, seed=seed, annualized=False,
        on_chunk=on_chunk,
    )  # fmt: skip


def bootstrap_win_rate_difference(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    alpha: float = 0.05,
    n_boot: int = 2000,
    mean_block: float | None = None,
    seed: int | None = 0,
    on_chunk: ChunkDone | None = None,
) -> TestResult:
    """Stationary-bootstrap CI and p-value for the win-rate difference A - B on the days
    both arms hold a position (see :func:`win_rate_difference`)."""
    return _bootstrap_test(
        "win rate, shared market days (bootstrap)",
        "share of positive days when both hold a position, difference",
        win_rate_difference, a, b,
        alpha=alpha, n_boot=n_boot, mean_block=mean_block, seed=seed, annualized=False,
        on_chunk=on_chunk,
    )  # fmt: skip
