"""Report pack schedules: set, list and remove them (the ``pm`` role, audited); the
packs that are due go out from :mod:`app.services.report_pack_delivery`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.operations.report_pack import (
    WEEKDAYS,
    ScheduleListRequest,
    ScheduleNameRequest,
    ScheduleRequest,
)
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.report_pack_build import model_versions
from app.services.signin import record_audit
from core.reports.pack_schedule import next_slot
from core.store.db import session_scope
from core.store.models import ReportSchedule
from core.store.report_pack import ReportDeliveryRepository, ReportScheduleRepository


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


def _view(row: ReportSchedule, now: datetime, deliveries: list[Any]) -> ScheduleView:
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


def set_schedule(
    request: ScheduleRequest, *, actor: Actor = LOCAL, now: datetime | None = None
) -> ScheduleView:
    """Create or replace schedule ``request.name`` (the ``pm`` role); its channels must
    exist. A new schedule owes no slot from before it was made."""
    from core.store.alerts import AlertRepository

    require(actor, "pm", "scheduling report packs")
    if request.kind == "model":
        model_versions(request.subject)  # LookupError naming a model that is not registered
    at = now or datetime.now(UTC)
    with session_scope(get_engine()) as s:
        known = {c["name"] for c in AlertRepository(s).channel_list()} | {"in-app"}
        missing = [c for c in request.channels if c not in known]
        if missing:
            raise LookupError(
                f"No alert channel is named {', '.join(missing)}; add it on the Alerts page"
            )
        row = ReportScheduleRepository(s).upsert(
            request.name,
            subject_kind=request.kind,
            subject_name=request.subject,
            frequency=request.frequency,
            weekday=None if request.weekday is None else WEEKDAYS.index(request.weekday),
            at_time=request.hhmm,
            timezone=request.timezone,
            channels=list(request.channels),
            formats=list(request.formats),
            created_by=actor.name,
            created_at=at,
        )
        record_audit(s, actor, "reports.schedule.set", request.name, **request.model_dump())
        return _view(row, at, [])


def list_schedules(
    request: ScheduleListRequest | None = None, *, now: datetime | None = None
) -> list[ScheduleView]:
    """Every schedule with its next slot and its newest deliveries."""
    last = (request or ScheduleListRequest()).last
    at = now or datetime.now(UTC)
    with session_scope(get_engine()) as s:
        deliveries = ReportDeliveryRepository(s)
        return [
            _view(row, at, deliveries.recent(row.name, last) if last else [])
            for row in ReportScheduleRepository(s).list()
        ]


def remove_schedule(request: ScheduleNameRequest, *, actor: Actor = LOCAL) -> str:
    """Remove a schedule (the ``pm`` role); its delivery history stays."""
    require(actor, "pm", "removing report pack schedules")
    with session_scope(get_engine()) as s:
        if not ReportScheduleRepository(s).delete(request.name):
            raise LookupError(f"No report pack schedule is named {request.name}")
        record_audit(s, actor, "reports.schedule.remove", request.name)
    return request.name


__all__ = ["ScheduleView", "list_schedules", "remove_schedule", "set_schedule"]
