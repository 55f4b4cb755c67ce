"""How a report pack schedule is shown: its settings, next slot and recent deliveries
(re-exported by :mod:`app.services.report_pack_schedule`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.operations.report_pack import WEEKDAYS
from core.reports.pack_schedule import next_slot
from core.store.models import ReportSchedule


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as shown: its settings, next slot and recent deliveries."""

    name: str
    subject_kind: str
    subject: str
    frequency: str
    at: str
    weekday: str | None
    timezone: str
    channels: list[str]
    format: str
    created_at: datetime
    next_slot: datetime
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        times = {"created_at": self.created_at, "next_slot": self.next_slot}
        return {**self.__dict__, **{k: v.isoformat() for k, v in times.items()}}

    def describe(self) -> str:
        """One line: ``daily-ma: strategy ma_crossover daily at 07:00 UTC to hook ...``."""
        day = f" on {self.weekday}" if self.weekday else ""
        return (
            f"{self.name}: {self.subject_kind} {self.subject} {self.frequency}{day} at "
            f"{self.at} {self.timezone} to {', '.join(self.channels)} ({self.format}); next "
            f"{self.next_slot:%Y-%m-%d %H:%M} UTC"
        )


def view_of(row: ReportSchedule, now: datetime, deliveries: list[Any]) -> ScheduleView:
    """The :class:`ScheduleView` of a stored schedule at ``now``, with ``deliveries``."""
    weekday = None if row.weekday is None else WEEKDAYS[row.weekday]
    formats = list(row.formats)
    return ScheduleView(
        row.name,
        row.subject_kind,
        row.subject_name,
        row.frequency,
        row.at_time,
        weekday,
        row.timezone,
        list(row.channels),
        "both" if len(formats) == 2 else formats[0],
        aware(row.created_at),
        next_slot(row.frequency, row.at_time, weekday=row.weekday, timezone=row.timezone, now=now),
        [
            {
                "slot": aware(d.slot).isoformat(),
                "channel": d.channel,
                "status": d.status,
                "attempts": d.attempts,
                "error": d.error,
                "path": d.path,
            }
            for d in deliveries
        ],
    )
