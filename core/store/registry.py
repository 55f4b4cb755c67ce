"""The model registry's tables: versions and their audit trail, over a caller-owned Session.

Only queries live here; the stage rules (one champion per name, rollback as a stack of
champions) are :class:`core.registry.ModelRegistry`'s.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import ModelEvent, ModelVersion, utcnow


class RegistryRepository:
    """Model versions and registry events."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def latest_version(self, name: str) -> int:
        """The highest version number registered under ``name`` (0 when none)."""
        latest = self._s.scalar(
            select(ModelVersion.version)
            .where(ModelVersion.name == name)
            .order_by(ModelVersion.version.desc())
            .limit(1)
        )
        return int(latest or 0)

    def get(self, version_id: int) -> ModelVersion | None:
        """One version by id."""
        return self._s.get(ModelVersion, version_id)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Versions by name, newest version first; only ``name``'s when given."""
        query = select(ModelVersion).order_by(ModelVersion.name, ModelVersion.version.desc())
        if name:
            query = query.where(ModelVersion.name == name)
        return list(self._s.scalars(query))

    def champions(self, name: str) -> list[ModelVersion]:
        """The versions of ``name`` whose stage is champion (at most one when consistent)."""
        return list(
            self._s.scalars(
                select(ModelVersion).where(
                    ModelVersion.name == name, ModelVersion.stage == "champion"
                )
            )
        )

    def events(
        self, name: str | None = None, *, actions: Sequence[str] | None = None
    ) -> list[ModelEvent]:
        """Registry events, newest first; only ``name``'s and ``actions`` when given."""
        query = select(ModelEvent).order_by(ModelEvent.id.desc())
        if name:
            query = query.where(ModelEvent.name == name)
        if actions is not None:
            query = query.where(ModelEvent.action.in_(tuple(actions)))
        return list(self._s.scalars(query))

    def add_version(self, record: ModelVersion) -> ModelVersion:
        """Stage a new version, flushed so its id (and any constraint error) is known now."""
        self._s.add(record)
        self._s.flush()
        return record

    def add_event(
        self,
        *,
        name: str,
        version_id: int,
        action: str,
        from_stage: str | None,
        to_stage: str,
        reason: str,
        actor: str,
    ) -> ModelEvent:
        """Append one audit event."""
        event = ModelEvent(
            name=name,
            version_id=version_id,
            action=action,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
            actor=actor,
        )
        self._s.add(event)
        return event

    def set_stage(self, record: ModelVersion, stage: str, *, promoted: bool = False) -> None:
        """Move ``record`` to ``stage``; ``promoted`` stamps its promotion time."""
        record.stage = stage
        if promoted:
            record.promoted_at = utcnow()

    def flush(self) -> None:
        """Send pending changes (stage updates, events) to the database now."""
        self._s.flush()


__all__ = ["RegistryRepository"]
