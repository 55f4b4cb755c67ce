"""Deliver the scheduled report packs that are due.

:func:`deliver_due` runs in the alerts watchdog (:mod:`app.services.watchdog`) on
every check, with the watchdog's clock. Each channel of a due slot is *claimed* in the
database before the pack is sent (``report_deliveries``, unique per schedule, slot and
channel), so a slot goes out once: a second watchdog, or one restarted after a send,
finds the claim and skips it. A failed send is tried again on the next checks, up to
``report_send_attempts`` times in all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.services.db import get_engine
from app.services.report_pack_schedule import aware
from core.config import get_settings
from core.reports.pack_schedule import due_slot
from core.store.db import session_scope
from core.store.report_pack import ReportDeliveryRepository, ReportScheduleRepository


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
                    created_at=aware(r.created_at),
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


__all__ = ["deliver_due"]
