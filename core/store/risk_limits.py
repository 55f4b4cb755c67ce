"""Risk-limit versions: the newest row is in force; versions are gapless and unique."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow


class RiskLimitVersion(Base):
    """A version of the risk limits; the newest row is in force. Every row is audited."""

    __tablename__ = "risk_limit_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    limits: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
