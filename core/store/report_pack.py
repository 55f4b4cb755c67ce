"""Report pack schedules and deliveries (tables in :mod:`core.store.models`).

Repositories take a caller-owned Session and never commit: services own transactions.
A delivery is *claimed* before it is sent (:meth:`ReportDeliveryRepository.claim`): of
two claims of the same schedule, slot and channel (two watchdogs, or one restarted after
a crash) exactly one wins, so a slot is sent at most once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.store.models import ReportDelivery, ReportSchedule, utcnow
from core.store.paper import insert_ignore


def _utc(value: datetime) -> datetime:
    """``value`` as an aware UTC time (SQLite hands back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ReportScheduleRepository:
    """Stored report schedules, by name."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def upsert(self, name: str, **fields: Any) -> ReportSchedule:
        """Create schedule ``name`` or replace its fields (its delivery record stays)."""
        row = self.get(name)
        if row is None:
            row = ReportSchedule(name=name, **fields)
            self._s.add(row)
        else:
            for key, value in fields.items():
                setattr(row, key, value)
        self._s.flush()
        return row

    def get(self, name: str) -> ReportSchedule | None:
        """One schedule by name."""
        return self._s.scalar(select(ReportSchedule).where(ReportSchedule.name == name))

    def list(self) -> list[ReportSchedule]:
        """Every schedule, by name."""
        return list(self._s.scalars(select(ReportSchedule).order_by(ReportSchedule.name)))

    def delete(self, name: str) -> bool:
        """Remove a schedule (its deliveries stay as history); True if it existed."""
        result = self._s.execute(delete(ReportSchedule).where(ReportSchedule.name == name))
        return bool(getattr(result, "rowcount", 0))


class ReportDeliveryRepository:
    """Which slot of which schedule went to which channel, and how it went."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def claim(self, schedule_name: str, slot: datetime, channel: str) -> bool:
        """Record the delivery as ``sending``; False when that slot and channel were
        already claimed (sent, being sent, or failed)."""
        now = utcnow()
        return insert_ignore(
            self._s,
            ReportDelivery,
            {
                "schedule_name": schedule_name,
                "slot": _utc(slot),
                "channel": channel,
                "status": "sending",
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            },
        )

    def reclaim_failed(
        self, schedule_name: str, slot: datetime, channel: str, *, max_attempts: int
    ) -> bool:
        """Claim a failed delivery again while it has had fewer than ``max_attempts``;
        True if this caller got it (atomic: one UPDATE guarded on its status)."""
        result = self._s.execute(
            update(ReportDelivery)
            .where(
                ReportDelivery.schedule_name == schedule_name,
                ReportDelivery.slot == _utc(slot),
                ReportDelivery.channel == channel,
                ReportDelivery.status == "failed",
                ReportDelivery.attempts < max_attempts,
            )
            .values(status="sending", attempts=ReportDelivery.attempts + 1, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    def finish(
        self,
        schedule_name: str,
        slot: datetime,
        channel: str,
        *,
        status: str,
        error: str | None = None,
        path: str | None = None,
    ) -> None:
        """Mark a claimed delivery ``sent`` or ``failed`` (with the error and the pack's
        file)."""
        self._s.execute(
            update(ReportDelivery)
            .where(
                ReportDelivery.schedule_name == schedule_name,
                ReportDelivery.slot == _utc(slot),
                ReportDelivery.channel == channel,
            )
            .values(status=status, error=error, path=path, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    def of_slot(self, schedule_name: str, slot: datetime) -> dict[str, ReportDelivery]:
        """The deliveries of one slot, by channel."""
        rows = self._s.scalars(
            select(ReportDelivery).where(
                ReportDelivery.schedule_name == schedule_name,
                ReportDelivery.slot == _utc(slot),
            )
        )
        return {row.channel: row for row in rows}

    def recent(self, schedule_name: str | None = None, limit: int = 50) -> list[ReportDelivery]:
        """Newest first (of one schedule when named)."""
        query = select(ReportDelivery).order_by(ReportDelivery.id.desc()).limit(limit)
        if schedule_name is not None:
            query = query.where(ReportDelivery.schedule_name == schedule_name)
        return list(self._s.scalars(query))


__all__ = ["ReportDeliveryRepository", "ReportScheduleRepository"]
