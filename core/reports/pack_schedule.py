"""When a scheduled report pack is due: daily or weekly slots at a wall-clock time.

A slot is a time of day in the schedule's time zone (daily), or that time on one
weekday (weekly). The due slot at ``now`` is the latest one at or before it; a
schedule never owes slots from before it was created.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _slot_on(day: datetime, hhmm: str, zone: ZoneInfo) -> datetime:
    hours, minutes = (int(p) for p in hhmm.split(":"))
    local = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=zone)
    return local.astimezone(UTC)


def latest_slot(
    frequency: str, hhmm: str, *, weekday: int | None, timezone: str, now: datetime
) -> datetime:
    """The latest slot at or before ``now`` (UTC).

    >>> now = datetime(2026, 1, 7, 8, 0, tzinfo=UTC)  # a Wednesday
    >>> latest_slot("daily", "07:00", weekday=None, timezone="UTC", now=now).isoformat()
    '2026-01-07T07:00:00+00:00'
    >>> latest_slot("daily", "09:00", weekday=None, timezone="UTC", now=now).isoformat()
    '2026-01-06T09:00:00+00:00'
    >>> latest_slot("weekly", "07:00", weekday=0, timezone="UTC", now=now).isoformat()
    '2026-01-05T07:00:00+00:00'
    """
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    for back in range(0, 8):
        day = local_now - timedelta(days=back)
        if frequency == "weekly" and day.weekday() != weekday:
            continue
        slot = _slot_on(day, hhmm, zone)
        if slot <= now:
            return slot
    raise ValueError(f"no {frequency} slot at {hhmm} within a week before {now.isoformat()}")


def next_slot(
    frequency: str, hhmm: str, *, weekday: int | None, timezone: str, now: datetime
) -> datetime:
    """The first slot after ``now`` (UTC).

    >>> now = datetime(2026, 1, 7, 8, 0, tzinfo=UTC)
    >>> next_slot("daily", "07:00", weekday=None, timezone="UTC", now=now).isoformat()
    '2026-01-08T07:00:00+00:00'
    """
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    for ahead in range(0, 9):
        day = local_now + timedelta(days=ahead)
        if frequency == "weekly" and day.weekday() != weekday:
            continue
        slot = _slot_on(day, hhmm, zone)
        if slot > now:
            return slot
    raise ValueError(f"no {frequency} slot at {hhmm} within a week after {now.isoformat()}")


def due_slot(
    frequency: str,
    hhmm: str,
    *,
    weekday: int | None,
    timezone: str,
    created_at: datetime,
    now: datetime,
) -> datetime | None:
    """The slot owed at ``now``: the latest one, unless it came before ``created_at``.

    >>> made = datetime(2026, 1, 7, 7, 30, tzinfo=UTC)
    >>> print(due_slot("daily", "07:00", weekday=None, timezone="UTC", created_at=made,
    ...                now=datetime(2026, 1, 7, 8, 0, tzinfo=UTC)))
    None
    """
    slot = latest_slot(frequency, hhmm, weekday=weekday, timezone=timezone, now=now)
    return slot if slot >= created_at else None


__all__ = ["WEEKDAYS", "due_slot", "latest_slot", "next_slot"]
