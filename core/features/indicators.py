"""Vectorized, causal indicator kernels: pandas Series in, pandas Series out.

Every function here uses only past and present bars (no ``shift(-k)``, no centred
windows, no full-sample statistics) and returns NaN where its window is not yet full,
so the number of leading NaNs is the indicator's lookback. Strategies may import these
directly; :mod:`core.features` wraps them as named, registered features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS = 252
_LN2 = float(np.log(2.0))


def simple_return(close: pd.Series, periods: int) -> pd.Series:
    """Simple return over ``periods`` bars, ``close / close.shift(periods) - 1``.

    >>> simple_return(pd.Series([100.0, 110.0, 99.0]), 1).round(4).tolist()
    [nan, 0.1, -0.1]
    """
    return close / close.shift(periods) - 1.0


def log_return(close: pd.Series, periods: int) -> pd.Series:
    """Log return over ``periods`` bars, ``ln(close / close.shift(periods))``.

    >>> log_return(pd.Series([1.0, np.e, 1.0]), 1).round(6).tolist()
    [nan, 1.0, -1.0]
    """
    return np.log(close).diff(periods)


def realized_vol(
    close: pd.Series, window: int, periods_per_year: float = TRADING_DAYS
) -> pd.Series:
    """Annualized rolling standard deviation (ddof=1) of 1-bar log returns.

    The first value needs ``window`` returns, so it appears at row ``window``.
    """
    return log_return(close, 1).rolling(window).std() * np.sqrt(periods_per_year)


def wilder_mean(values: pd.Series, window: int, first_valid: int) -> pd.Series:
    """Wilder's smoothing: seed with the SMA of the first ``window`` values, then recurse.

    ``avg[t] = avg[t-1] + (x[t] - avg[t-1]) / window``, i.e. an EMA with
    ``alpha = 1 / window`` started from a simple mean. ``values`` must be valid from
    position ``first_valid`` on; the first average sits at ``first_valid + window - 1``.

    >>> wilder_mean(pd.Series([1.0, 2.0, 3.0, 4.0]), 2, 0).tolist()
    [nan, 1.5, 2.25, 3.125]
    """
    seed_pos = first_valid + window - 1
    out = np.full(len(values), np.nan)
    if len(values) <= seed_pos:
        return pd.Series(out, index=values.index)
    arr = values.to_numpy(dtype="float64", copy=True)
    seed = arr[first_valid : seed_pos + 1].mean()
    arr[:seed_pos] = np.nan
    arr[seed_pos] = seed
    # adjust=False starts the recursion at the first non-NaN value, i.e. at the seed.
    return pd.Series(arr, index=values.index).ewm(alpha=1.0 / window, adjust=False).mean()


def rsi(close: pd.Series, window: int = 14) -> pd.Series:
    """Wilder's Relative Strength Index in [0, 100], first value at row ``window``.

    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)`` (equal to ``100 - 100 / (1 + RS)``);
    a window with no movement at all gives 50.

    >>> float(rsi(pd.Series(np.arange(1.0, 20.0)), 14).iloc[-1])
    100.0
    """
    delta = close.diff()
    gain = wilder_mean(delta.clip(lower=0.0), window, first_valid=1)
    loss = wilder_mean((-delta).clip(lower=0.0), window, first_valid=1)
    total = gain + loss
    return (100.0 * gain / total).where(total != 0.0, 50.0).where(total.notna())


def ema(values: pd.Series, span: int, min_periods: int = 0) -> pd.Series:
    """Recursive EMA, ``alpha = 2 / (span + 1)``, started at the first valid value."""
    return values.ewm(span=span, adjust=False, min_periods=min_periods).mean()


def macd(
    close: pd.Series, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """MACD line, signal line and histogram, in price units.

    The line is masked until ``slow`` bars exist (row ``slow - 1``); the signal EMA starts
    on the first unmasked line value and is masked for its own ``signal - 1`` bars.
    """
    line = ema(close, fast) - ema(close, slow, min_periods=slow)
    sig = ema(line, signal, min_periods=signal)
    return line, sig, line - sig


def true_range(high: pd.Series, low: pd.Series, close: pd.Series) -> pd.Series:
    """``max(high - low, |high - prev_close|, |low - prev_close|)``; NaN on the first bar."""
    prev = close.shift(1).to_numpy()
    h, lo = high.to_numpy(), low.to_numpy()
    tr = np.maximum(np.maximum(h - lo, np.abs(h - prev)), np.abs(lo - prev))
    return pd.Series(tr, index=close.index)


def atr(high: pd.Series, low: pd.Series, close: pd.Series, window: int = 14) -> pd.Series:
    """Wilder's Average True Range (price units), first value at row ``window``."""
    return wilder_mean(true_range(high, low, close), window, first_valid=1)


def parkinson_vol(
    high: pd.Series, low: pd.Series, window: int, periods_per_year: float = TRADING_DAYS
) -> pd.Series:
    """Parkinson (1980) high-low range volatility, annualized.

    ``sigma^2 = mean(ln(H/L)^2) / (4 ln 2)`` over ``window`` bars.
    """
    hl2 = np.log(high / low) ** 2
    return np.sqrt(hl2.rolling(window).mean() / (4.0 * _LN2) * periods_per_year)


def garman_klass_vol(
    open_: pd.Series,
    high: pd.Series,
    low: pd.Series,
    close: pd.Series,
    window: int,
    periods_per_year: float = TRADING_DAYS,
) -> pd.Series:
    """Garman-Klass (1980) OHLC volatility, annualized.

    ``sigma^2 = mean(0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2)`` over ``window`` bars.
    """
    term = 0.5 * np.log(high / low) ** 2 - (2.0 * _LN2 - 1.0) * np.log(close / open_) ** 2
    return np.sqrt(term.rolling(window).mean().clip(lower=0.0) * periods_per_year)


def bollinger(
    close: pd.Series, window: int = 20, n_std: float = 2.0
) -> tuple[pd.Series, pd.Series]:
    """Bollinger %B and bandwidth, with the population std (ddof=0) as in Bollinger's book.

    ``%B = (close - lower) / (upper - lower)``, ``bandwidth = (upper - lower) / middle``.
    """
    roll = close.rolling(window)
    mid = roll.mean()
    width = 2.0 * n_std * roll.std(ddof=0)
    lower = mid - 0.5 * width
    return (close - lower) / width, width / mid


def zscore(values: pd.Series, window: int) -> pd.Series:
    """``(x - rolling mean) / rolling std (ddof=1)`` over ``window`` bars."""
    roll = values.rolling(window)
    return (values - roll.mean()) / roll.std()


def sma_distance(close: pd.Series, window: int) -> pd.Series:
    """``close / SMA(window) - 1``."""
    return close / close.rolling(window).mean() - 1.0


def drawdown(close: pd.Series, window: int | None = None) -> pd.Series:
    """``close / running high - 1`` (<= 0); expanding when ``window`` is None.

    >>> drawdown(pd.Series([1.0, 2.0, 1.5, 3.0])).tolist()
    [0.0, 0.0, -0.25, 0.0]
    """
    peak = close.cummax() if window is None else close.rolling(window).max()
    return close / peak - 1.0


def stochastic_k(high: pd.Series, low: pd.Series, close: pd.Series, window: int) -> pd.Series:
    """Fast stochastic %K in [0, 100]: where the close sits in the ``window``-bar range."""
    lowest = low.rolling(window).min()
    return 100.0 * (close - lowest) / (high.rolling(window).max() - lowest)


def range_position(close: pd.Series, window: int) -> pd.Series:
    """Close-only Donchian position in [0, 1]: ``(close - min) / (max - min)`` of closes."""
    lowest = close.rolling(window).min()
    return (close - lowest) / (close.rolling(window).max() - lowest)


def efficiency_ratio(close: pd.Series, window: int) -> pd.Series:
    """Kaufman efficiency ratio in [0, 1]: net move over the sum of absolute bar moves.

    >>> float(efficiency_ratio(pd.Series([1.0, 2.0, 3.0, 2.0]), 3).iloc[-1])
    0.3333333333333333
    """
    net = (close - close.shift(window)).abs()
    return net / close.diff().abs().rolling(window).sum()


def return_autocorr(close: pd.Series, window: int) -> pd.Series:
    """Rolling lag-1 autocorrelation of 1-bar log returns; first value at row ``window + 1``."""
    ret = log_return(close, 1)
    return ret.rolling(window).corr(ret.shift(1))
