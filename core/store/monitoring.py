"""Monitoring tables: a model version's training reference distribution and the live
monitoring figures of paper sessions (model metrics, drift, data quality) per bar.

SQL only; the figures are computed in :mod:`core.monitoring`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow


class ModelReference(Base):
    """The training distribution of every feature of a registered model version, and its
    out-of-sample figures at registration (what live monitoring compares with)."""

    __tablename__ = "model_references"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(Integer, unique=True, index=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    oos: Mapped[dict[str, Any]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MonitorPoint(Base):
    """One monitoring figure set of a paper session at a bar: ``kind`` is ``model``,
    ``drift`` or ``quality``; ``symbol`` is set for per-symbol quality."""

    __tablename__ = "monitor_points"
    __table_args__ = (Index("ix_monitor_points_session_bar", "session_name", "bar"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_name: Mapped[str] = mapped_column(String(64))
    bar: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


class MonitoringRepository:
    """Reference rows and monitor points over a caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def reference(self, version_id: int) -> ModelReference | None:
        """The reference of a model version, or None."""
        return self._s.scalars(
            select(ModelReference).where(ModelReference.version_id == version_id)
        ).first()

    def save_reference(self, row: ModelReference) -> ModelReference:
        """Insert (or replace) a version's reference row."""
        old = self.reference(row.version_id)
        if old is not None:
            self._s.delete(old)
            self._s.flush()
        self._s.add(row)
        self._s.flush()
        return row

    def add_points(self, rows: list[MonitorPoint]) -> None:
        """Append monitor points (flushed with the caller's transaction)."""
        self._s.add_all(rows)

    def add_bar_point(
        self, session_name: str, bar: int, ts: datetime, kind: str, values: dict[str, Any]
    ) -> None:
        """Append one bar's point of ``kind``, stamped in UTC (a naive label is UTC)."""
        import pandas as pd  # with the first point, not with the tables

        label = pd.Timestamp(ts)
        stamp = label.tz_localize("UTC") if label.tzinfo is None else label.tz_convert("UTC")
        point = MonitorPoint(
            session_name=session_name, bar=bar, ts=stamp.to_pydatetime(), kind=kind, values=values
        )
        self.add_points([point])

    def points(
        self, session_name: str, *, kind: str | None = None, limit: int = 500
    ) -> list[MonitorPoint]:
        """A session's newest points (``kind``'s only when given), oldest first."""
        query = select(MonitorPoint).where(MonitorPoint.session_name == session_name)
        if kind is not None:
            query = query.where(MonitorPoint.kind == kind)
        rows = self._s.scalars(query.order_by(MonitorPoint.id.desc()).limit(limit)).all()
        return list(reversed(rows))


__all__ = ["ModelReference", "MonitorPoint", "MonitoringRepository"]
