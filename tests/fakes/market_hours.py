"""NYSE hours for the fakes: Alpaca's ``/v2/clock`` and ``/v2/calendar`` answers and the
session minutes of the synthetic market-data generator, from ``exchange_calendars``."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")


@lru_cache(maxsize=1)
def schedule() -> pd.DataFrame:
    """XNYS sessions 2015-2030: columns ``open``, ``close`` (UTC), index session date."""
    import exchange_calendars as xcals

    frame = xcals.get_calendar("XNYS", start="2015-01-01", end="2030-12-31").schedule
    return frame[["open", "close"]]


def session_minutes(first_session: str, sessions: int) -> pd.DatetimeIndex:
    """UTC minute starts of ``sessions`` sessions from ``first_session`` (regular hours)."""
    table = schedule().loc[pd.Timestamp(first_session) :].iloc[:sessions]
    parts = [
        pd.date_range(row.open, row.close, freq="1min", inclusive="left")
        for row in table.itertuples()
    ]
    return pd.DatetimeIndex(pd.DatetimeIndex([]).append(parts), name="t").tz_convert(UTC)


def _iso(ts: datetime) -> str:
    return ts.astimezone(NEW_YORK).isoformat()


def clock_json(now: datetime) -> dict[str, Any]:
    """Alpaca's ``GET /v2/clock`` at ``now`` (times in New York, as Alpaca sends them)."""
    table = schedule()
    stamp = pd.Timestamp(now).tz_convert(UTC)
    opens, closes = table["open"], table["close"]
    later_open = opens[opens > stamp].iloc[0]
    later_close = closes[closes > stamp].iloc[0]
    is_open = bool(((opens <= stamp) & (closes > stamp)).any())
    return {
        "timestamp": _iso(stamp.to_pydatetime()),
        "is_open": is_open,
        "next_open": _iso(later_open.to_pydatetime()),
        "next_close": _iso(later_close.to_pydatetime()),
    }


def calendar_json(start: str | None, end: str | None) -> list[dict[str, str]]:
    """Alpaca's ``GET /v2/calendar`` rows (``date``, ``open``/``close`` as New York HH:MM)."""
    table = schedule()
    lo = pd.Timestamp(start or date(2015, 1, 1))
    hi = pd.Timestamp(end or date(2030, 12, 31))
    rows = []
    for day, row in table.loc[lo:hi].iterrows():
        opened = row["open"].tz_convert(NEW_YORK)
        closed = row["close"].tz_convert(NEW_YORK)
        rows.append(
            {
                "date": f"{day:%Y-%m-%d}",
                "open": f"{opened:%H:%M}",
                "close": f"{closed:%H:%M}",
                "session_open": "0400",
                "session_close": "2000",
                "settlement_date": f"{day:%Y-%m-%d}",
            }
        )
    return rows


def route(path: str, query: dict[str, str], now: datetime | None) -> tuple[int, Any]:
    """``(status, json)`` of ``/v2/clock`` or ``/v2/calendar``."""
    if path == "/v2/clock":
        return 200, clock_json(now or datetime.now(UTC))
    return 200, calendar_json(query.get("start"), query.get("end"))
