"""Report pack schedules: set, list and remove them (the ``pm`` role, audited); the
packs that are due go out from :mod:`app.services.report_pack_delivery`."""

from __future__ import annotations

from datetime import UTC, datetime

from app.operations.report_pack import (
    WEEKDAYS,
    ScheduleListRequest,
    ScheduleNameRequest,
    ScheduleRequest,
)
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.report_pack_build import model_versions
from app.services.report_pack_schedule_view import ScheduleView, aware, view_of
from app.services.signin import record_audit
from core.store.db import session_scope
from core.store.report_pack import ReportDeliveryRepository, ReportScheduleRepository


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
        return view_of(row, at, [])


def list_schedules(
    request: ScheduleListRequest | None = None, *, now: datetime | None = None
) -> list[ScheduleView]:
    """Every schedule with its next slot and its newest deliveries."""
    last = (request or ScheduleListRequest()).last
    at = now or datetime.now(UTC)
    with session_scope(get_engine()) as s:
        deliveries = ReportDeliveryRepository(s)
        return [
            view_of(row, at, deliveries.recent(row.name, last) if last else [])
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


__all__ = ["ScheduleView", "aware", "list_schedules", "remove_schedule", "set_schedule"]
