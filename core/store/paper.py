"""Paper-trading sessions and their equity history (the worker's durable state)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.models import Base, utcnow


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL); True if inserted.

    Atomic: of two concurrent inserts of the same key exactly one returns True, and
    neither raises.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = next(iter(model.__table__.primary_key.columns))
    statement = module.insert(model).values(**values).on_conflict_do_nothing().returning(key)
    # RETURNING, not rowcount: psycopg reports -1 for ON CONFLICT DO NOTHING
    return session.execute(statement).first() is not None


class PaperSession(Base):
    """One supervised paper-trading session: its configuration and replay cursor."""

    __tablename__ = "paper_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    broker: Mapped[str] = mapped_column(String(16))
    dataset: Mapped[str] = mapped_column(String(64))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cursor: Mapped[int] = mapped_column(Integer, default=-1)
    cursor_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    peak_equity: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="new")
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaperLease(Base):
    """Which worker runs a paper session: owner, heartbeat and expiry (one row per session).

    See :mod:`core.paper.lease`; the row exists only while a worker holds the session.
    """

    __tablename__ = "paper_leases"

    session_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(160))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EquitySnapshot(Base):
    """Equity at one bar's close of a session."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (
        UniqueConstraint("session_id", "bar", name="uq_equity_snapshots_session_bar"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("paper_sessions.id"), index=True)
    bar: Mapped[int] = mapped_column(Integer)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    equity: Mapped[float] = mapped_column(Float)
    cash: Mapped[float] = mapped_column(Float)
    realized_pnl: Mapped[float] = mapped_column(Float, default=0.0)
    unrealized_pnl: Mapped[float] = mapped_column(Float, default=0.0)


class PaperSessionRepository:
    """Sessions and equity history over a caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str) -> PaperSession | None:
        """A session by name."""
        return self._s.scalar(select(PaperSession).where(PaperSession.name == name))

    def latest(self) -> PaperSession | None:
        """The most recently updated session."""
        return self._s.scalar(
            select(PaperSession).order_by(PaperSession.updated_at.desc()).limit(1)
        )

    def add(self, row: PaperSession) -> PaperSession:
        """Stage a new session."""
        self._s.add(row)
        self._s.flush()
        return row

    def snapshot(self, **fields: Any) -> EquitySnapshot:
        """Append an equity snapshot."""
        row = EquitySnapshot(**fields)
        self._s.add(row)
        self._s.flush()
        return row

    def last_equity(self, session_id: int) -> EquitySnapshot | None:
        """The newest equity snapshot of a session."""
        return self._s.scalar(
            select(EquitySnapshot)
            .where(EquitySnapshot.session_id == session_id)
            .order_by(EquitySnapshot.bar.desc())
            .limit(1)
        )

    def equity(self, session_id: int, limit: int = 100_000) -> list[EquitySnapshot]:
        """Equity history in bar order."""
        return list(
            self._s.scalars(
                select(EquitySnapshot)
                .where(EquitySnapshot.session_id == session_id)
                .order_by(EquitySnapshot.bar)
                .limit(limit)
            )
        )
