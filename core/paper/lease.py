"""One worker per paper session: a lease row with an owner, a heartbeat and an expiry.

A worker takes the session's lease before it writes anything and renews it every cycle,
inside the same transaction as the bar's writes, so a worker that lost its lease can
never commit another bar. A second worker on the same session is refused with
:class:`LeaseHeldError` (naming the holder). A lease can be taken over when it is
*stale*: its expiry has passed (the holder stopped renewing), or its holder is a process
on this host that no longer exists (a crashed worker, e.g. after ``kill -9``), so
crash-resume never waits.

Taking a lease is one conditional ``INSERT ... ON CONFLICT DO NOTHING`` or one
conditional ``UPDATE``: atomic on SQLite and PostgreSQL alike, without locks held
between statements.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.store.paper import PaperLease, insert_ignore
from core.store.trading import as_utc

Clock = Callable[[], datetime]
DEFAULT_TTL_S = 120.0


def utc_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class LeaseHeldError(RuntimeError):
    """Another live worker holds the session's lease."""


class LeaseLostError(RuntimeError):
    """This worker's lease was taken over (it stopped renewing in time): stop writing."""


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a session's lease, and until when."""

    session: str
    owner: str
    host: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def holder_alive(info: LeaseInfo, now: datetime) -> bool:
    """Whether the lease still protects its holder: not expired, and (same host) alive."""
    if as_utc(info.expires_at) <= now:
        return False
    return not (info.host == socket.gethostname() and not _pid_alive(info.pid))


def _info(row: PaperLease) -> LeaseInfo:
    return LeaseInfo(
        session=row.session_name,
        owner=row.owner,
        host=row.host,
        pid=row.pid,
        acquired_at=as_utc(row.acquired_at),
        heartbeat_at=as_utc(row.heartbeat_at),
        expires_at=as_utc(row.expires_at),
    )


def current_lease(session: Session, name: str) -> LeaseInfo | None:
    """The lease row of a session (live or stale), or None."""
    row = session.get(PaperLease, name)
    return None if row is None else _info(row)


def live_leases(session: Session, now: datetime | None = None) -> list[LeaseInfo]:
    """Leases whose holder is still alive (see :func:`holder_alive`)."""
    now = now or utc_clock()
    rows = session.scalars(select(PaperLease).order_by(PaperLease.session_name))
    return [info for info in map(_info, rows) if holder_alive(info, now)]


class SessionLease:
    """The lease of one paper session for one worker.

    Parameters
    ----------
    engine
        Migrated database.
    session_name
        The paper session.
    ttl_s
        Seconds a renewal keeps the lease; a holder that does not renew within it can be
        taken over.
    clock
        Returns the current UTC time (inject a fake clock in tests).
    role
        Label in the owner id (``worker``, ``kill-switch``).
    """

    def __init__(
        self,
        engine: Engine,
        session_name: str,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        clock: Clock = utc_clock,
        role: str = "worker",
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s must be positive seconds; got {ttl_s!r}")
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.session_name = session_name
        self.ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.owner = f"{role}:{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self.held = False

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def acquire(self) -> SessionLease:
        """Take the lease, or raise :class:`LeaseHeldError` naming the live holder."""
        now = self._now()
        fields = {
            "owner": self.owner,
            "host": self.host,
            "pid": self.pid,
            "acquired_at": now,
            "heartbeat_at": now,
            "expires_at": now + self.ttl,
        }
        with self._sessions.begin() as s:
            if insert_ignore(s, PaperLease, {"session_name": self.session_name, **fields}):
                self.held = True
                return self
        with self._sessions.begin() as s:
            current = current_lease(s, self.session_name)
            if current is not None and holder_alive(current, now):
                raise LeaseHeldError(_held_message(current, now))
            if current is not None:
                # Stale: take it over only if nobody renewed or took it since we looked.
                taken = s.execute(
                    update(PaperLease)
                    .where(
                        PaperLease.session_name == self.session_name,
                        PaperLease.owner == current.owner,
                        PaperLease.heartbeat_at == current.heartbeat_at,
                    )
                    .values(**fields)
                    .returning(PaperLease.session_name)
                ).first()
                if taken is not None:
                    self.held = True
                    return self
        # Someone else won the race (or released it) in between: look once more.
        with self._sessions.begin() as s:
            current = current_lease(s, self.session_name)
        if current is None:
            return self.acquire()
        raise LeaseHeldError(_held_message(current, now))

    def renew(self, session: Session | None = None) -> None:
        """Push the expiry forward; raise :class:`LeaseLostError` if the lease was taken.

        Pass the transaction of the writes it guards, so they commit only with the lease.
        """
        if session is None:
            with self._sessions.begin() as s:
                self.renew(s)
            return
        now = self._now()
        renewed = session.execute(
            update(PaperLease)
            .where(PaperLease.session_name == self.session_name, PaperLease.owner == self.owner)
            .values(heartbeat_at=now, expires_at=now + self.ttl)
            .returning(PaperLease.session_name)
            .execution_options(synchronize_session=False)
        ).first()
        if renewed is None:
            self.held = False
            raise LeaseLostError(
                f"paper session {self.session_name!r}: this worker's lease was taken over "
                "(it did not renew in time); stopping without writing"
            )

    def release(self) -> None:
        """Give the lease up (a no-op when it is not held)."""
        if not self.held:
            return
        with self._sessions.begin() as s:
            s.execute(
                delete(PaperLease).where(
                    PaperLease.session_name == self.session_name, PaperLease.owner == self.owner
                )
            )
        self.held = False

    def __enter__(self) -> SessionLease:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _held_message(info: LeaseInfo, now: datetime) -> str:
    age = max(0.0, (now - info.heartbeat_at).total_seconds())
    left = max(0.0, (info.expires_at - now).total_seconds())
    return (
        f"paper session {info.session!r} is already run by another worker "
        f"(pid {info.pid} on {info.host}, last heartbeat {age:.0f} s ago); nothing was "
        f"written. Stop it first (workbench paper kill), use another --session, or wait: "
        f"its lease expires in {left:.0f} s if it stops renewing"
    )
