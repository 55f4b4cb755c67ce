"""Causal indicator kernels shared by the strategies (numpy in, numpy out).

Every value at bar ``t`` uses observations ``0..t`` only. Indicators that are also
features (RSI, realized volatility) are computed by :mod:`core.features.indicators`, so a
strategy and a feature of the same name give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.features import indicators as features


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing simple moving average; the first ``window - 1`` bars are NaN.

    >>> rolling_mean(np.array([1.0, 2.0, 3.0, 4.0]), 2)
    array([nan, 1.5, 2.5, 3.5])
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.full(values.shape, np.nan)
    if window > values.shape[0]:
        return out
    csum = np.cumsum(np.concatenate([[0.0], values]))
    out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


def rolling_mean_matrix(values: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Trailing moving averages of ``values`` for several windows at once, shape (T, len(windows)).

    >>> rolling_mean_matrix(np.array([1.0, 2.0, 3.0]), np.array([1, 2]))[:, 1]
    array([nan, 1.5, 2.5])
    """
    values = np.asarray(values, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.int64)
    n = values.shape[0]
    csum = np.concatenate([[0.0], np.cumsum(values)])
    out = np.full((n, windows.shape[0]), np.nan)
    for j, window in enumerate(windows):
        if window <= n:
            out[window - 1 :, j] = (csum[window:] - csum[:-window]) / window
    return out


def rsi(close: np.ndarray, window: int) -> np.ndarray:
    """Wilder's relative strength index (0..100), numpy in and out; NaN before bar ``window``.

    The feature :func:`core.features.indicators.rsi` does the work (Wilder's smoothing
    seeded with the mean of the first ``window`` changes; 50 where nothing moved).

    >>> rsi(np.array([1.0, 2.0, 3.0, 2.0, 3.0]), 2).tolist()
    [nan, nan, 100.0, 50.0, 75.0]
    """
    close_s = pd.Series(np.asarray(close, dtype=np.float64))
    out: np.ndarray = features.rsi(close_s, window).to_numpy()
    return out


def rolling_zscore(close: np.ndarray, window: int) -> np.ndarray:
    """``(close - rolling mean) / rolling std`` over a trailing window (ddof=1)."""
    close_s = pd.Series(np.asarray(close, dtype=np.float64))
    roll = close_s.rolling(window, min_periods=window)
    std = roll.std(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (close_s.to_numpy() - roll.mean().to_numpy()) / std
    z[std == 0.0] = 0.0
    out: np.ndarray = z
    return out


def realized_vol(close: np.ndarray, window: int, periods_per_year: float = 252.0) -> np.ndarray:
    """Annualized trailing standard deviation of log returns (ddof=1), numpy in and out;
    the feature :func:`core.features.indicators.realized_vol` does the work."""
    close_s = pd.Series(np.asarray(close, dtype=np.float64))
    out: np.ndarray = features.realized_vol(close_s, window, periods_per_year).to_numpy()
    return out


def state_machine(
    long_entry: np.ndarray,
    long_exit: np.ndarray,
    short_entry: np.ndarray,
    short_exit: np.ndarray,
) -> np.ndarray:
    """Turn entry/exit event arrays into a {-1, 0, 1} position path.

    Exits are applied before entries on the same bar, so a bar can close one side and
    open the other (a reversal).

    >>> le = np.array([0, 1, 0, 0, 0], bool); lx = np.array([0, 0, 0, 1, 0], bool)
    >>> no = np.zeros(5, bool)
    >>> state_machine(le, lx, no, no)
    array([0., 1., 1., 0., 0.])
    """
    n = len(long_entry)
    out = np.zeros(n)
    le, lx = np.asarray(long_entry, bool).tolist(), np.asarray(long_exit, bool).tolist()
    se, sx = np.asarray(short_entry, bool).tolist(), np.asarray(short_exit, bool).tolist()
    state = 0.0
    for t in range(n):
        if (state > 0 and lx[t]) or (state < 0 and sx[t]):
            state = 0.0
        if le[t] and not se[t]:
            state = 1.0
        elif se[t] and not le[t]:
            state = -1.0
        out[t] = state
    return out


def cross_positions(
    fast_ma: np.ndarray,
    slow_ma: np.ndarray,
    allow_short: bool = False,
    last_side: np.ndarray | None = None,
    started: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions that change only on a real crossover of two lines, rows (N, T).

    A bar where ``fast > slow`` (``<``) is on the upper (lower) side; a tie keeps the
    previous side and a NaN bar has none. A cross is a bar whose side differs from the
    side of the bar before; the first cross opens the position, which then follows the
    side (long on the upper side; short on the lower side with ``allow_short``, else
    flat). This is vectorbt's ``crossed_above`` / ``crossed_below`` as entries and
    exits, and backtesting.py's ``crossover``, for lines without ties.

    ``last_side`` and ``started`` (per row) carry the state from earlier bars when the
    rows are processed in blocks of bars; the function returns the positions (int8) and
    both states after the last bar.

    >>> f = np.array([[3.0, 3.0, 1.0, 3.0]]); s = np.full((1, 4), 2.0)
    >>> cross_positions(f, s)[0].tolist()  # above from the start: wait for a cross
    [[0, 0, 0, 1]]
    """
    fast_ma = np.atleast_2d(fast_ma)
    slow_ma = np.atleast_2d(slow_ma)
    n, width = fast_ma.shape
    with np.errstate(invalid="ignore"):
        side = (fast_ma > slow_ma).view(np.int8) - (fast_ma < slow_ma).view(np.int8)
        tie = fast_ma == slow_ma
    prev_side = np.zeros(n, dtype=np.int8) if last_side is None else np.asarray(last_side, np.int8)
    if tie.any():  # a tie keeps the side of the bar before (across blocks too)
        known = np.where(tie, -1, np.arange(width))
        np.maximum.accumulate(known, axis=1, out=known)
        carried = np.take_along_axis(side, np.maximum(known, 0), axis=1)
        side = np.where(known >= 0, carried, prev_side[:, None]).astype(np.int8)
    before = np.empty_like(side)
    before[:, 0] = prev_side
    before[:, 1:] = side[:, :-1]
    cross = (side != before) & (side != 0) & (before != 0)
    opened = np.logical_or.accumulate(cross, axis=1)
    if started is not None:
        opened |= np.asarray(started, dtype=bool)[:, None]
    pos = np.where(opened, side, 0).astype(np.int8)
    if not allow_short:
        np.maximum(pos, 0, out=pos)
    return pos, side[:, -1].copy(), opened[:, -1].copy()
