"""The market calendar monitoring counts in (XNYS through ``exchange_calendars``, offline).

A small seam: :func:`market_open` and :func:`open_seconds` are what stale-data checks and
the watchdog use; they switch to :mod:`core.feeds.clock` (``CalendarClock``) once that
lands, without changing their callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pandas as pd

CALENDAR = "XNYS"


@lru_cache(maxsize=4)
def _calendar(name: str) -> Any:
    import importlib

    return importlib.import_module("exchange_calendars").get_calendar(name)


def _utc(at: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(at)
    return ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)


def _in_range(cal: Any, at: pd.Timestamp) -> bool:
    return bool(cal.first_minute <= at <= cal.last_minute)


def market_open(at: datetime | pd.Timestamp, calendar: str = CALENDAR) -> bool:
    """Whether the market trades at ``at`` (UTC; naive counts as UTC).

    >>> market_open(datetime(2024, 1, 2, 15, 0)), market_open(datetime(2024, 1, 1, 15, 0))
    (True, False)
    """
    cal = _calendar(calendar)
    ts = _utc(at).floor("min")
    return _in_range(cal, ts) and bool(cal.is_open_on_minute(ts))


def open_seconds(
    start: datetime | pd.Timestamp, end: datetime | pd.Timestamp, calendar: str = CALENDAR
) -> float:
    """Seconds the market was open between ``start`` and ``end`` (0 when end <= start).

    >>> open_seconds(datetime(2024, 1, 2, 14, 0), datetime(2024, 1, 3, 15, 30))
    27000.0
    """
    a, b = _utc(start), _utc(end)
    if b <= a:
        return 0.0
    cal = _calendar(calendar)
    sessions = cal.sessions_in_range(
        a.normalize().tz_localize(None), b.normalize().tz_localize(None)
    )
    total = 0.0
    for session in sessions:
        lo, hi = cal.session_open(session), cal.session_close(session)
        overlap = (min(hi, b) - max(lo, a)).total_seconds()
        total += max(0.0, overlap)
    return total


def sessions_between(first: pd.Timestamp, last: pd.Timestamp, calendar: str = CALENDAR) -> int:
    """Trading sessions strictly between two daily labels (0 outside the calendar).

    >>> sessions_between(pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    2
    """
    cal = _calendar(calendar)
    a, b = pd.Timestamp(first).normalize(), pd.Timestamp(last).normalize()
    if a.tzinfo is not None:
        a, b = a.tz_localize(None), b.tz_localize(None)
    if b <= a or a < cal.first_session or b > cal.last_session:
        return 0
    inside = len(cal.sessions_in_range(a, b))
    return max(0, inside - int(cal.is_session(a)) - int(cal.is_session(b)))


def closes_between(
    start: datetime | pd.Timestamp, end: datetime | pd.Timestamp, calendar: str = CALENDAR
) -> int:
    """Session closes in ``(start, end]`` (daily bars the market produced meanwhile).

    >>> closes_between(datetime(2024, 1, 2, 22, 0), datetime(2024, 1, 5, 22, 0))
    3
    """
    a, b = _utc(start), _utc(end)
    if b <= a:
        return 0
    cal = _calendar(calendar)
    lo = max(a.normalize().tz_localize(None), cal.first_session)
    hi = min(b.normalize().tz_localize(None), cal.last_session)
    if hi < lo:
        return 0
    closes = cal.closes[cal.sessions_in_range(lo, hi)]
    return int(((closes > a) & (closes <= b)).sum())


@dataclass(frozen=True)
class MarketHours:
    """When a session's market trades, for stale-data checks: the exchange calendar
    (``always_open=False``) or around the clock (replayed and simulated feeds)."""

    calendar: str = CALENDAR
    always_open: bool = False

    def is_open(self, at: datetime) -> bool:
        """Whether the market trades at ``at``."""
        return True if self.always_open else market_open(at, self.calendar)

    def missed_bars(self, since: datetime, now: datetime, interval_s: float) -> float:
        """Bars of ``interval_s`` seconds the market produced after ``since`` until
        ``now``: open seconds over the interval (intraday), session closes (daily)."""
        if self.always_open:
            return max(0.0, (now - since).total_seconds()) / interval_s
        if interval_s >= 86_400:
            return float(closes_between(since, now, self.calendar))
        return open_seconds(since, now, self.calendar) / interval_s


__all__ = [
    "CALENDAR",
    "MarketHours",
    "closes_between",
    "market_open",
    "open_seconds",
    "sessions_between",
]
