"""Risk-limit versions: the newest row is in force; versions are gapless and unique."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.store.models import RiskLimitVersion


class VersionTaken(Exception):
    """A concurrent writer stored ``version`` first (the column is unique).

    The database's own error is kept as ``__cause__``: when no other writer holds
    ``version`` the fault was something else, and the caller re-raises it.
    """

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


class RiskLimitRepository:
    """Versioned risk limits over a caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def latest(self) -> RiskLimitVersion | None:
        """The version in force, or None while the built-in defaults apply."""
        return self._s.scalar(
            select(RiskLimitVersion).order_by(RiskLimitVersion.version.desc()).limit(1)
        )

    def history(self) -> list[RiskLimitVersion]:
        """Every version, newest first."""
        return list(
            self._s.scalars(select(RiskLimitVersion).order_by(RiskLimitVersion.version.desc()))
        )

    def add(
        self,
        *,
        version: int,
        limits: dict[str, Any],
        previous: dict[str, Any],
        changed_by: str,
        role: str,
        reason: str,
    ) -> RiskLimitVersion:
        """Insert ``version``, flushed now.

        Raises
        ------
        VersionTaken
            The insert failed (a concurrent writer took the same version number first,
            or another integrity fault, kept as ``__cause__``); the session must be
            rolled back.
        """
        record = RiskLimitVersion(
            version=version,
            limits=limits,
            previous=previous,
            changed_by=changed_by,
            role=role,
            reason=reason,
        )
        self._s.add(record)
        try:
            self._s.flush()
        except IntegrityError as exc:
            raise VersionTaken(version) from exc
        return record
