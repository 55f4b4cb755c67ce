"""Report pack schedules: set, list and remove them, and deliver the packs that are due.

:func:`deliver_due` runs in the alerts watchdog (:mod:`app.services.watchdog`) on
every check, with the watchdog's clock. Each channel of a due slot is *claimed* in the
database before the pack is sent (``report_deliveries``, unique per schedule, slot and
channel), so a slot goes out once: a second watchdog, or one restarted after a send,
finds the claim and skips it. A failed send is tried again on the next checks, up to
``report_send_attempts`` times in all.
"""

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
from app.services.signin import record_audit
from core.config import get_settings
from core.reports.pack_schedule import due_slot, next_slot
from core.store.db import session_scope
from core.store.models import ReportSchedule
from core.store.report_pack import ReportDeliveryRepository, ReportScheduleRepository


def _aware(value: datetime) -> datetime:
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
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat()
        out["next_slot"] = self.next_slot.isoformat()
        return out

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
        _aware(row.created_at),
        next_slot(row.frequency, row.at_time, weekday=row.weekday, timezone=row.timezone, now=now),
        [
            {
                "slot": _aware(d.slot).isoformat(),
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


def _claim(name: str, slot: datetime, channels: list[str]) -> list[str]:
    """The channels of ``slot`` this caller claimed (new, or failed and retried)."""
    tries = get_settings().report_send_attempts
    with session_scope(get_engine()) as s:
        repo = ReportDeliveryRepository(s)
        return [
            c
            for c in channels
            if repo.claim(name, slot, c) or repo.reclaim_failed(name, slot, c, max_attempts=tries)
        ]


def _finish(name: str, slot: datetime, channel: str, **fields: Any) -> None:
    with session_scope(get_engine()) as s:
        ReportDeliveryRepository(s).finish(name, slot, channel, **fields)


def _owed(done: dict[str, Any], channels: list[str]) -> bool:
    """Whether a channel of a slot has no delivery yet, or a failed one left to retry."""
    tries = get_settings().report_send_attempts
    return any(
        c not in done or (done[c].status == "failed" and done[c].attempts < tries) for c in channels
    )


def deliver_due(now: datetime) -> list[dict[str, Any]]:
    """Send every schedule's due slot to the channels that have not had it; one result
    per channel tried (``schedule``, ``slot``, ``channel``, ``status``, ``error``)."""
    from app.services import report_pack

    results: list[dict[str, Any]] = []
    if not get_settings().report_schedules_enabled:
        return results
    with session_scope(get_engine()) as s:
        rows = [
            (r.name, r.subject_kind, r.subject_name, list(r.channels), list(r.formats), slot)
            for r in ReportScheduleRepository(s).list()
            if (
                slot := due_slot(
                    r.frequency,
                    r.at_time,
                    weekday=r.weekday,
                    timezone=r.timezone,
                    created_at=_aware(r.created_at),
                    now=now,
                )
            )
            is not None
            and _owed(ReportDeliveryRepository(s).of_slot(r.name, slot), r.channels)
        ]
    for name, kind, subject, channels, formats, slot in rows:
        claimed = _claim(name, slot, channels)
        if not claimed:
            continue
        folder = get_settings().var_dir / "reports" / "schedules" / name / f"{slot:%Y%m%dT%H%MZ}"
        try:
            pack = report_pack.build_pack(kind, subject, at=now)
            outcome = report_pack.write_files(pack, formats, folder)
        except Exception as exc:  # a pack that cannot be built fails its channels, not the watchdog
            for channel in claimed:
                _finish(name, slot, channel, status="failed", error=str(exc))
                results.append(_result(name, slot, channel, "failed", str(exc)))
            continue
        path = str(outcome.files[0])
        for channel in claimed:
            try:
                report_pack.send(outcome, channel)
                _finish(name, slot, channel, status="sent", path=path)
                results.append(_result(name, slot, channel, "sent", None))
            except Exception as exc:  # ChannelError, a missing channel, a bad key
                _finish(name, slot, channel, status="failed", error=str(exc), path=path)
                results.append(_result(name, slot, channel, "failed", str(exc)))
    return results


def _result(
    name: str, slot: datetime, channel: str, status: str, error: str | None
) -> dict[str, Any]:
    return {
        "schedule": name,
        "slot": slot.isoformat(),
        "channel": channel,
        "status": status,
        "error": error,
    }


__all__ = ["ScheduleView", "deliver_due", "list_schedules", "remove_schedule", "set_schedule"]
