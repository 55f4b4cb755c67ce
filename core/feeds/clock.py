"""Market clocks: is the market open at a moment, and when does it next open or close.

Three implementations of :class:`MarketClock`:

* :class:`CalendarClock`: the ``exchange_calendars`` schedule (``XNYS`` by default), offline;
* :class:`AlpacaClock`: Alpaca's clock and calendar through alpaca-py's ``TradingClient``
  (``get_clock`` for the time, ``get_calendar`` for sessions and early closes);
* :class:`AlwaysOpenClock`: always open (replay and simulated sessions played 24/7).

Every time is a timezone-aware UTC ``datetime``; a naive ``at`` is read as UTC. A session
is the half-open interval ``[open, close)``: at the closing minute the market is closed.
:func:`market_status_text` phrases the state for the page and ``paper status``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from alpaca.trading.client import TradingClient

NEW_YORK = ZoneInfo("America/New_York")
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
"""What an always-open clock answers for its next close."""


def utc_now() -> datetime:
    """The wall-clock time, UTC-aware (the default ``clock`` of every class here)."""
    return datetime.now(UTC)


def as_utc(at: datetime | pd.Timestamp) -> datetime:
    """``at`` as an aware UTC ``datetime`` (naive means UTC)."""
    stamp = pd.Timestamp(at)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return cast(datetime, stamp.to_pydatetime())


@runtime_checkable
class MarketClock(Protocol):
    """What a paper session asks of the market's hours."""

    def now(self) -> datetime:
        """The current time (UTC-aware)."""
        ...

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls inside a session ``[open, close)``."""
        ...

    def next_open(self, at: datetime) -> datetime:
        """The first session open strictly after ``at``."""
        ...

    def next_close(self, at: datetime) -> datetime:
        """The first session close strictly after ``at``."""
        ...


class ScheduleClock:
    """A clock over a table of sessions (sorted UTC opens and closes).

    Parameters
    ----------
    opens, closes
        Session opens and closes, UTC, sorted, ``opens[i] < closes[i] <= opens[i + 1]``.
    clock
        The time source of :meth:`now`.
    """

    def __init__(
        self,
        opens: pd.DatetimeIndex,
        closes: pd.DatetimeIndex,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._opens = _as_ns(opens)
        self._closes = _as_ns(closes)
        self._clock = clock

    def now(self) -> datetime:
        """The injected clock's time, UTC-aware."""
        return as_utc(self._clock())

    def _ns(self, at: datetime) -> np.int64:
        return np.int64(pd.Timestamp(as_utc(at)).value)

    def _check(self, i: int, at: datetime, what: str) -> int:
        if i >= len(self._opens):
            raise ValueError(
                f"the market calendar has no {what} after {as_utc(at):%Y-%m-%d %H:%M} UTC; "
                "extend the calendar's end date"
            )
        return i

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` is inside a session ``[open, close)``."""
        ns = self._ns(at)
        i = int(np.searchsorted(self._opens, ns, side="right")) - 1
        return i >= 0 and bool(ns < self._closes[i])

    def next_open(self, at: datetime) -> datetime:
        """The first open strictly after ``at``."""
        i = int(np.searchsorted(self._opens, self._ns(at), side="right"))
        return _from_ns(self._opens[self._check(i, at, "open")])

    def next_close(self, at: datetime) -> datetime:
        """The first close strictly after ``at``."""
        i = int(np.searchsorted(self._closes, self._ns(at), side="right"))
        return _from_ns(self._closes[self._check(i, at, "close")])

    def session_of(self, at: datetime) -> tuple[datetime, datetime] | None:
        """``(open, close)`` of the session containing ``at`` (None when closed)."""
        ns = self._ns(at)
        i = int(np.searchsorted(self._opens, ns, side="right")) - 1
        if i < 0 or ns >= self._closes[i]:
            return None
        return _from_ns(self._opens[i]), _from_ns(self._closes[i])


def _as_ns(index: pd.DatetimeIndex) -> np.ndarray[Any, np.dtype[np.int64]]:
    idx = pd.DatetimeIndex(index)
    idx = idx.tz_localize(UTC) if idx.tz is None else idx.tz_convert(UTC)
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


def _from_ns(ns: np.int64) -> datetime:
    return cast(datetime, pd.Timestamp(int(ns), tz=UTC).to_pydatetime())


@lru_cache(maxsize=4)
def _schedule(name: str, start: str, end: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    import exchange_calendars as xcals  # type: ignore[import-untyped]

    calendar = xcals.get_calendar(name, start=start, end=end)
    schedule = calendar.schedule
    return pd.DatetimeIndex(schedule["open"]), pd.DatetimeIndex(schedule["close"])


class CalendarClock(ScheduleClock):
    """The exchange's sessions from ``exchange_calendars`` (offline; holidays and early
    closes included).

    Parameters
    ----------
    calendar
        An ``exchange_calendars`` name (``"XNYS"``: the New York Stock Exchange).
    clock
        The time source of :meth:`now` (injectable for tests).
    start, end
        Range of the schedule (built once per process and cached).
    """

    def __init__(
        self,
        calendar: str = "XNYS",
        *,
        clock: Callable[[], datetime] = utc_now,
        start: str = "2015-01-01",
        end: str = "2030-12-31",
    ) -> None:
        opens, closes = _schedule(calendar, start, end)
        super().__init__(opens, closes, clock=clock)
        self.calendar = calendar

    def __repr__(self) -> str:
        return f"CalendarClock({self.calendar!r})"


class AlpacaClock:
    """Alpaca's market clock and calendar through alpaca-py's ``TradingClient``.

    :meth:`now` is Alpaca's ``/v2/clock`` time, fetched at most every ``sync_every_s``
    and advanced by the local monotonic clock in between. Sessions come from
    ``/v2/calendar`` (New York open/close times, early closes included), fetched per
    window of ``window_days`` around the asked time and cached.

    Parameters
    ----------
    trading_client
        An alpaca-py ``TradingClient`` (its ``url_override`` points tests at the fake).
    sync_every_s
        How long a fetched clock time is reused (advanced locally).
    window_days
        Calendar days fetched per calendar request.
    monotonic
        Local monotonic time source (injectable).
    """

    def __init__(
        self,
        trading_client: TradingClient,
        *,
        sync_every_s: float = 300.0,
        window_days: int = 60,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = trading_client
        self._sync_every_s = sync_every_s
        self._window = timedelta(days=window_days)
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._synced: tuple[datetime, float] | None = None
        self._sessions: dict[date, tuple[datetime, datetime]] = {}
        self._fetched: list[tuple[date, date]] = []
        self._table_cache: ScheduleClock | None = None

    def now(self) -> datetime:
        """Alpaca's time (re-synchronised every ``sync_every_s``)."""
        with self._lock:
            mono = self._monotonic()
            if self._synced is None or mono - self._synced[1] >= self._sync_every_s:
                stamp = self._client.get_clock().timestamp  # type: ignore[union-attr]
                self._synced = (as_utc(stamp), mono)
            base, at = self._synced
            return base + timedelta(seconds=mono - at)

    def _ensure(self, day: date) -> None:
        if any(lo <= day <= hi for lo, hi in self._fetched):
            return
        from alpaca.trading.requests import GetCalendarRequest

        lo, hi = day - self._window, day + self._window
        rows = self._client.get_calendar(GetCalendarRequest(start=lo, end=hi))
        for row in cast("list[Any]", rows):
            opened = row.open.replace(tzinfo=NEW_YORK).astimezone(UTC)
            closed = row.close.replace(tzinfo=NEW_YORK).astimezone(UTC)
            self._sessions[row.date] = (opened, closed)
        self._fetched.append((lo, hi))

    def _table(self, at: datetime) -> ScheduleClock:
        day = as_utc(at).astimezone(NEW_YORK).date()
        with self._lock:
            fetched = len(self._fetched)
            self._ensure(day)
            self._ensure(day + self._window - timedelta(days=7))
            if self._table_cache is None or len(self._fetched) != fetched:
                sessions = [self._sessions[d] for d in sorted(self._sessions)]
                opens = pd.DatetimeIndex([s[0] for s in sessions])
                closes = pd.DatetimeIndex([s[1] for s in sessions])
                self._table_cache = ScheduleClock(opens, closes, clock=self.now)
            return self._table_cache

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` is inside one of Alpaca's sessions."""
        return self._table(at).is_open(at)

    def next_open(self, at: datetime) -> datetime:
        """Alpaca's next session open strictly after ``at``."""
        return self._table(at).next_open(at)

    def next_close(self, at: datetime) -> datetime:
        """Alpaca's next session close strictly after ``at``."""
        return self._table(at).next_close(at)


class AlwaysOpenClock:
    """A market that never closes (replay and simulated sessions run 24/7)."""

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock

    def now(self) -> datetime:
        """The injected clock's time."""
        return as_utc(self._clock())

    def is_open(self, at: datetime) -> bool:
        """Always true."""
        return True

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself: the market is already open."""
        return as_utc(at)

    def next_close(self, at: datetime) -> datetime:
        """:data:`FAR_FUTURE` (never)."""
        return FAR_FUTURE


def _stamp(moment: datetime, at: datetime) -> str:
    """``21:00 UTC`` on the same UTC day as ``at``, else ``Wed 2 Dec 14:30 UTC``."""
    if moment.date() == at.date():
        return f"{moment:%H:%M} UTC"
    return f"{moment:%a} {moment.day} {moment:%b %H:%M} UTC"


def market_status_text(clock: MarketClock, at: datetime | None = None) -> str:
    """The market's state at ``at`` (default: the clock's now) in a few words.

    Examples: ``"market open until 21:00 UTC"``, ``"market closed until Wed 2 Dec 14:30
    UTC"``, ``"market always open (24/7 clock)"``.
    """
    moment = as_utc(at if at is not None else clock.now())
    if clock.is_open(moment):
        close = as_utc(clock.next_close(moment))
        if close >= FAR_FUTURE - timedelta(days=366):
            return "market always open (24/7 clock)"
        return f"market open until {_stamp(close, moment)}"
    return f"market closed until {_stamp(as_utc(clock.next_open(moment)), moment)}"


__all__ = [
    "FAR_FUTURE",
    "AlpacaClock",
    "AlwaysOpenClock",
    "CalendarClock",
    "MarketClock",
    "ScheduleClock",
    "as_utc",
    "market_status_text",
    "utc_now",
]
