"""Paper-trader tables and their repositories: sessions and their equity history, the
decision log, the worker's control row and heartbeats (the worker's durable state).

Repositories take a caller-owned Session and never commit: services own transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow
from core.store.risk_limits import RiskLimitVersion

WORKER_STATES = ("running", "paused", "stopped", "killed")
#: The worker control row before anyone has asked for anything.
CONTROL_DEFAULTS: dict[str, Any] = {
    "desired_state": "stopped",
    "flatten_on_kill": True,
    "reason": "",
    "updated_by": "system",
}


def insert_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING`` (SQLite and PostgreSQL); True if inserted.

    Atomic: of two concurrent inserts of the same key exactly one returns True, and
    neither raises.
    """
    key = next(iter(cast(Table, model.__table__).primary_key.columns))
    # The dialect is imported here: PostgreSQL's module costs 25-50 ms of every start-up.
    statement: Any
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        statement = postgresql.insert(model).values(**values).on_conflict_do_nothing()
    else:
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(model).values(**values).on_conflict_do_nothing()
    statement = statement.returning(key)
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


class TradingDecision(Base):
    """What the paper trader decided and why (features, regime, signal, risk verdict)."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("uq_decisions_session_bar_symbol", "session_name", "bar", "symbol", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    session_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bar: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text, default="")


class WorkerControl(Base):
    """The single row through which the UI and CLI steer the paper-trading worker."""

    __tablename__ = "worker_control"
    __table_args__ = (
        CheckConstraint("id = 1", name="ck_worker_control_single_row"),
        CheckConstraint(
            "desired_state IN ('running', 'paused', 'stopped', 'killed')",
            name="ck_worker_control_state",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    desired_state: Mapped[str] = mapped_column(String(16), default="stopped")
    flatten_on_kill: Mapped[bool] = mapped_column(Boolean, default=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    updated_by: Mapped[str] = mapped_column(String(64), default="system")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkerHeartbeat(Base):
    """One beat per worker cycle; the newest row tells whether the worker is alive."""

    __tablename__ = "worker_heartbeat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


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

    def close_bar(
        self,
        session_id: int,
        *,
        bar: int,
        ts: datetime,
        peak_equity: float,
        snapshot: dict[str, Any],
    ) -> None:
        """Append bar ``bar``'s equity snapshot and move the cursor, peak and
        ``updated_at`` with it (no read of the session row: two statements)."""
        self._s.execute(
            insert(EquitySnapshot).values(session_id=session_id, bar=bar, ts=ts, **snapshot)
        )
        self._s.execute(
            update(PaperSession)
            .where(PaperSession.id == session_id)
            .values(cursor=bar, cursor_ts=ts, peak_equity=peak_equity, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

    def close_bars(
        self,
        session_id: int,
        snapshots: list[dict[str, Any]],
        *,
        bar: int,
        ts: datetime,
        peak_equity: float,
    ) -> None:
        """:meth:`close_bar` for several bars: their snapshots (``bar``, ``ts`` and the
        snapshot fields) in one executemany INSERT, then the cursor moved to the last
        (``bar``, ``ts``) in one UPDATE."""
        if snapshots:
            rows = [{"session_id": session_id, **row} for row in snapshots]
            self._s.execute(insert(EquitySnapshot), rows)
        self._s.execute(
            update(PaperSession)
            .where(PaperSession.id == session_id)
            .values(cursor=bar, cursor_ts=ts, peak_equity=peak_equity, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )

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

    def list(self) -> list[PaperSession]:
        """Every session, oldest first."""
        return list(self._s.scalars(select(PaperSession).order_by(PaperSession.id)))


class DecisionRepository:
    """The paper trader's decision log."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        symbol: str,
        payload: dict[str, Any],
        explanation: str = "",
        ts: datetime | None = None,
        session_name: str | None = None,
        bar: int | None = None,
    ) -> TradingDecision:
        """Record a decision (flushed, so its id is known).

        ``(session_name, bar, symbol)`` is unique: a paper session decides a bar once.
        """
        decision = TradingDecision(
            symbol=symbol,
            payload=payload,
            explanation=explanation,
            ts=ts or utcnow(),
            session_name=session_name,
            bar=bar,
        )
        self._s.add(decision)
        self._s.flush()
        return decision

    def add_many(self, rows: list[dict[str, Any]], *, ids: list[int] | None = None) -> list[int]:
        """Record several decisions (the fields of :meth:`add`) in one INSERT; their ids,
        in the order of ``rows``.

        ``ids``: the caller's ids for them (it holds the write lock that keeps them
        free), so no RETURNING is needed and the rows go in one executemany.
        """
        values = [{"explanation": "", "ts": utcnow(), **row} for row in rows]
        if ids is not None:
            values = [{**v, "id": i} for v, i in zip(values, ids, strict=True)]
            self._s.execute(insert(TradingDecision), values)
            return list(ids)
        statement = insert(TradingDecision).returning(
            TradingDecision.id, sort_by_parameter_order=True
        )
        return [int(i) for i in self._s.scalars(statement, values)]

    def decided_symbols(self, session_name: str, bar: int) -> set[str]:
        """The symbols ``session_name`` recorded a decision for at ``bar``."""
        return set(
            self._s.scalars(
                select(TradingDecision.symbol).where(
                    TradingDecision.session_name == session_name, TradingDecision.bar == bar
                )
            )
        )

    def recent(
        self,
        *,
        symbol: str | None = None,
        limit: int = 100,
        session_name: str | None = None,
    ) -> list[TradingDecision]:
        """Newest first (of one paper session when ``session_name`` is given)."""
        query = select(TradingDecision).order_by(TradingDecision.id.desc()).limit(limit)
        if symbol is not None:
            query = query.where(TradingDecision.symbol == symbol)
        if session_name is not None:
            query = query.where(TradingDecision.session_name == session_name)
        return list(self._s.scalars(query))

    def decided(self, session_name: str, bar: int, symbol: str | None = None) -> bool:
        """Whether ``session_name`` recorded a decision for ``bar`` (for ``symbol``, or any)."""
        query = select(TradingDecision.id).where(
            TradingDecision.session_name == session_name, TradingDecision.bar == bar
        )
        if symbol is not None:
            query = query.where(TradingDecision.symbol == symbol)
        return self._s.scalar(query.limit(1)) is not None


@dataclass(frozen=True, slots=True)
class ControlPoll:
    """What a worker reads before each bar: the desired state and the limits version."""

    desired_state: str
    flatten_on_kill: bool
    reason: str
    limits_version: int
    """The risk-limit version in force (0: the built-in defaults)."""


class WorkerControlRepository:
    """The single control row (created as ``stopped`` on first read)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def poll(self) -> ControlPoll:
        """The control row and the newest risk-limit version, in one statement."""
        version = select(func.coalesce(func.max(RiskLimitVersion.version), 0)).scalar_subquery()
        row = self._s.execute(
            select(
                WorkerControl.desired_state,
                WorkerControl.flatten_on_kill,
                WorkerControl.reason,
                version,
            ).where(WorkerControl.id == 1)
        ).first()
        if row is None:  # first read ever: create the row, then read again
            self.get()
            return self.poll()
        return ControlPoll(str(row[0]), bool(row[1]), str(row[2]), int(row[3]))

    def peek(self) -> WorkerControl | None:
        """The control row, or None before anything created it; never writes, so a read-only
        snapshot transaction can use it (a write there may fail at once on SQLite's WAL with
        "database is locked" when another connection committed since the snapshot began)."""
        return self._s.get(WorkerControl, 1)

    def get(self) -> WorkerControl:
        """The control row (created on first use: call it only where a write may follow)."""
        row = self.peek()
        if row is None:
            # concurrent first reads (two processes) create it once, neither fails
            insert_ignore(
                self._s,
                WorkerControl,
                {"id": 1, **CONTROL_DEFAULTS, "updated_at": utcnow()},
            )
            row = self._s.get_one(WorkerControl, 1)
        return row

    def set(
        self,
        desired_state: str,
        *,
        updated_by: str,
        reason: str = "",
        flatten_on_kill: bool | None = None,
    ) -> WorkerControl:
        """Ask the worker to run, pause, stop or kill."""
        if desired_state not in WORKER_STATES:
            raise ValueError(
                f"desired_state must be one of {', '.join(WORKER_STATES)}; got {desired_state!r}"
            )
        row = self.get()
        row.desired_state = desired_state
        row.reason = reason
        row.updated_by = updated_by
        row.updated_at = utcnow()
        if flatten_on_kill is not None:
            row.flatten_on_kill = flatten_on_kill
        self._s.flush()
        return row


class HeartbeatRepository:
    """Worker heartbeats."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def beat(
        self,
        *,
        cycle: int,
        status: str,
        latency_ms: float = 0.0,
        last_error: str | None = None,
        ts: datetime | None = None,
    ) -> WorkerHeartbeat:
        """Record one cycle."""
        row = WorkerHeartbeat(
            ts=ts or utcnow(),
            cycle=cycle,
            status=status,
            latency_ms=latency_ms,
            last_error=last_error,
        )
        self._s.add(row)
        self._s.flush()
        return row

    def append(
        self,
        *,
        cycle: int,
        status: str,
        latency_ms: float = 0.0,
        last_error: str | None = None,
    ) -> None:
        """Record one cycle (one INSERT, no row object: the worker's hot path)."""
        self._s.execute(
            insert(WorkerHeartbeat).values(
                ts=utcnow(),
                cycle=cycle,
                status=status,
                latency_ms=latency_ms,
                last_error=last_error,
            )
        )

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """Record several cycles (the fields of :meth:`append` and their ``ts``) in one
        executemany INSERT."""
        if rows:
            self._s.execute(insert(WorkerHeartbeat), rows)

    def latest(self) -> WorkerHeartbeat | None:
        """The newest beat."""
        return self._s.scalar(select(WorkerHeartbeat).order_by(WorkerHeartbeat.id.desc()).limit(1))

    def recent(self, limit: int = 100) -> list[WorkerHeartbeat]:
        """Newest first."""
        return list(
            self._s.scalars(
                select(WorkerHeartbeat).order_by(WorkerHeartbeat.id.desc()).limit(limit)
            )
        )

    def prune(self, keep: int = 10_000) -> int:
        """Delete all but the newest ``keep`` beats; returns how many were deleted."""
        cutoff = self._s.scalar(
            select(WorkerHeartbeat.id).order_by(WorkerHeartbeat.id.desc()).offset(keep).limit(1)
        )
        if cutoff is None:
            return 0
        result = self._s.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id <= cutoff))
        return int(getattr(result, "rowcount", 0) or 0)
