"""The bar frequency of a price series, read from its timestamps, and its annualization.

Daily bars (at least about a day apart) count 252 bars a year; intraday bars count
252 trading days of 6.5 hours (NYSE regular hours): a 1-minute bar is one of
``252 * 390 = 98,280`` bars a year. The interval of an intraday series is the spacing of
consecutive bars *within* a trading day (the overnight gap and missing bars do not count);
a series whose spacing is not one regular interval is refused with a sentence naming the
problem rather than annualized by a guess.

>>> idx = pd.date_range("2024-01-02 14:31", periods=5, freq="min")
>>> bar_interval(idx), periods_per_year_of(idx), freq_text(bar_interval(idx))
(Timedelta('0 days 00:01:00'), 98280.0, '1min')
>>> periods_per_year_of(pd.bdate_range("2024-01-01", periods=30))
252.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS = 252
"""Trading days a year."""
SESSION = pd.Timedelta(hours=6.5)
"""Length of a regular NYSE session (09:30-16:00 New York)."""
DAY = pd.Timedelta(days=1)
DAILY_MIN_SPACING = pd.Timedelta(hours=20)
"""Bars at least this far apart are daily (or longer) bars, whatever their time of day."""


def periods_per_year_for(interval: pd.Timedelta | str) -> float:
    """Bars a year for a bar length: 252 a year per day; 6.5 h x 252 intraday.

    >>> periods_per_year_for("1D"), periods_per_year_for("1h"), periods_per_year_for("7D")
    (252.0, 1638.0, 36.0)
    >>> periods_per_year_for("1min"), periods_per_year_for("5min")
    (98280.0, 19656.0)
    """
    delta = pd.Timedelta(interval)
    if delta <= pd.Timedelta(0):
        raise ValueError(f"a bar interval must be positive, got {interval!r}")
    if delta >= DAY:
        return float(TRADING_DAYS / (delta / DAY))
    return float(TRADING_DAYS * (SESSION / delta))


def _as_index(index: pd.Index | pd.Series | pd.DataFrame) -> pd.DatetimeIndex:
    if isinstance(index, pd.DataFrame | pd.Series):
        index = index.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"the bar interval needs timestamps, got an index of {index.dtype} values")
    if len(index) < 2:
        raise ValueError(f"the bar interval needs at least two bars, got {len(index)}")
    if index.hasnans:
        raise ValueError("the bar interval cannot be read: some timestamps are missing (NaT)")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError(
            "the bar interval cannot be read: timestamps are not strictly increasing "
            "(sort them and keep one bar per timestamp)"
        )
    return index


def bar_interval(index: pd.Index | pd.Series | pd.DataFrame) -> pd.Timedelta:
    """The length of one bar of a price series.

    Bars at least ~1 day apart (20 h or more) are daily: the interval is the median
    spacing in whole days (1 day for trading-day bars, whose weekend gaps are rarer than
    the one-day steps). Otherwise the interval is the shortest spacing of consecutive bars
    on the same calendar day among those found in at least a tenth of them (with many
    bars missing, twice the interval can be the most common step), and every such
    spacing must be a whole multiple of it (missing bars); at least
    half of the consecutive pairs must fall on the same day.

    Parameters
    ----------
    index : DatetimeIndex, Series or DataFrame
        Strictly increasing timestamps (a frame's or series' index is used).

    Raises
    ------
    ValueError
        Fewer than two bars, timestamps that are not strictly increasing, or a spacing
        that is irregular or ambiguous; the message names the problem.

    >>> bar_interval(pd.date_range("2024-01-02 14:35", periods=4, freq="5min"))
    Timedelta('0 days 00:05:00')
    >>> bar_interval(pd.DatetimeIndex(["2024-01-02 14:31", "2024-01-02 14:32", "2024-01-02 14:34"]))
    Timedelta('0 days 00:01:00')
    >>> bar_interval(pd.date_range("2024-01-01", periods=6, freq="W-FRI"))
    Timedelta('7 days 00:00:00')
    >>> odd = ["2024-01-02 14:31", "2024-01-02 14:32", "2024-01-02 14:33:30"]
    >>> bar_interval(pd.DatetimeIndex(odd))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the bars are irregular: within a day they are mostly 1min apart, ...
    """
    idx = _as_index(index)
    values = (idx if idx.tz is None else idx.tz_convert(None)).as_unit("ns").asi8
    steps = np.diff(values)
    if steps.min() >= DAILY_MIN_SPACING.value:
        days = int(np.rint(np.median(steps) / DAY.value))
        return pd.Timedelta(days=max(days, 1))
    day = values // DAY.value
    within = steps[day[1:] == day[:-1]]
    if len(within) * 2 < len(steps):
        raise ValueError(
            f"the bar interval is ambiguous: only {len(within)} of {len(steps)} consecutive "
            "bars fall on the same day, so the series mixes daily and intraday bars; keep "
            "one bar frequency per dataset"
        )
    kinds, counts = np.unique(within, return_counts=True)
    # The shortest spacing common enough to be the grid (at least a tenth of the same-day
    # steps): with many bars missing, twice the interval can be the most common step.
    interval = int(kinds[counts * 10 >= len(within)].min())
    off = within % interval != 0
    if off.any():
        first = int(within[off][0])
        raise ValueError(
            f"the bars are irregular: within a day they are mostly {_text(interval)} apart, "
            f"but {int(off.sum())} step(s) are not a whole multiple of it (e.g. "
            f"{_text(first)}); resample the series to one interval"
        )
    return pd.Timedelta(interval, unit="ns")


def _text(nanoseconds: int) -> str:
    return freq_text(pd.Timedelta(nanoseconds, unit="ns"))


def freq_text(interval: pd.Timedelta) -> str:
    """A bar length as a pandas frequency string: ``1D``, ``5min``, ``1h``, ``30s``.

    >>> freq_text(pd.Timedelta(minutes=15)), freq_text(pd.Timedelta(hours=2))
    ('15min', '2h')
    """
    seconds = interval.total_seconds()
    for unit, size in (("D", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(interval.value)}ns"


def is_intraday(index: pd.Index | pd.Series | pd.DataFrame) -> bool:
    """True when the series' bars are shorter than a day.

    >>> is_intraday(pd.date_range("2024-01-02 14:31", periods=3, freq="min"))
    True
    """
    return bool(bar_interval(index) < DAY)


def periods_per_year_of(index: pd.Index | pd.Series | pd.DataFrame) -> float:
    """Bars a year of a price series: :func:`periods_per_year_for` of its :func:`bar_interval`.

    >>> periods_per_year_of(pd.date_range("2024-01-02 15:30", periods=3, freq="h"))
    1638.0
    """
    return periods_per_year_for(bar_interval(index))


def freq_of(index: pd.Index | pd.Series | pd.DataFrame) -> str:
    """The series' bar length as a frequency string (e.g. for ``BacktestSpec.freq``).

    >>> freq_of(pd.bdate_range("2024-01-01", periods=10)), freq_of(
    ...     pd.date_range("2024-01-02 14:31", periods=3, freq="min"))
    ('1D', '1min')
    """
    return freq_text(bar_interval(index))


TIMEFRAME_NAMES: dict[str, str] = {
    "1min": "1Min",
    "5min": "5Min",
    "15min": "15Min",
    "1h": "1Hour",
    "1D": "1Day",
}
"""Bar lengths (:func:`freq_text`) of the feed timeframes (``core.feeds.base.TIMEFRAMES``)."""


def timeframe_of(index: pd.Index | pd.Series | pd.DataFrame) -> str:
    """The feed timeframe (``1Min``, ``5Min``, ``15Min``, ``1Hour``, ``1Day``) of a series'
    bars, for a replay or simulated session that must match its dataset.

    >>> timeframe_of(pd.date_range("2024-01-02 14:35", periods=3, freq="5min"))
    '5Min'
    >>> two = pd.date_range("2024-01-02 14:32", periods=3, freq="2min")
    >>> timeframe_of(two)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the bars are 2min apart, which is no feed timeframe; use 1Min, 5Min, ...
    """
    freq = freq_of(index)
    if freq not in TIMEFRAME_NAMES:
        names = list(TIMEFRAME_NAMES.values())
        raise ValueError(
            f"the bars are {freq} apart, which is no feed timeframe; use "
            f"{', '.join(names[:-1])} or {names[-1]} data"
        )
    return TIMEFRAME_NAMES[freq]


__all__ = [
    "DAY",
    "SESSION",
    "TRADING_DAYS",
    "bar_interval",
    "freq_of",
    "freq_text",
    "is_intraday",
    "periods_per_year_for",
    "periods_per_year_of",
    "timeframe_of",
]
