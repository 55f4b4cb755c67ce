"""Persisted jobs: one record per long operation, its lease and its state machine.

A job is ``queued`` when submitted, ``running`` while a worker holds its lease, and ends
``done``, ``failed`` or ``cancelled``. Workers claim jobs with a conditional ``UPDATE``
(SQLite: one statement under the write lock; PostgreSQL: ``SELECT ... FOR UPDATE SKIP
LOCKED``), so many processes may claim at once and every job goes to exactly one of
them. A running job whose lease expired (its worker crashed) is claimed again with
``attempt + 1``. It need not wait for that expiry when its worker is known dead: its
``job_workers`` record expired, or the record is of this host and its process no longer
exists (or is a zombie), e.g. after ``kill -9``; :meth:`JobRepository.reap_dead` (run by
every claim) then ends the lease at once, with a compare-and-set on the lease so that
concurrent claimers agree. Every method takes the clock as ``now``; the caller owns the
transaction and should call :meth:`JobRepository.claim_next` in a fresh one.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow

STATUSES = ("queued", "running", "done", "failed", "cancelled")
TERMINAL = frozenset({"done", "failed", "cancelled"})
DEFAULT_LEASE_S = 30.0
_CLAIM_RETRIES = 20
_TICK = timedelta(microseconds=1)
"""A reaped lease ends this long before the reaper's ``now``, so the claim sees it expired."""

__all__ = [
    "DEFAULT_LEASE_S",
    "STATUSES",
    "TERMINAL",
    "IllegalTransitionError",
    "Job",
    "JobError",
    "JobNotFoundError",
    "JobRepository",
    "JobWorker",
    "LeaseLostError",
    "WorkerRepository",
    "pid_alive",
]


class JobError(Exception):
    """Base of every refusal of the job repository."""


class JobNotFoundError(JobError):
    """No job has this id."""


class IllegalTransitionError(JobError):
    """The job's status does not allow this change."""


class LeaseLostError(JobError):
    """The worker no longer holds the job's lease."""


class Job(Base):
    """One long operation: its request, owner, status, progress and result reference."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_kind_created", "kind", "created_at"),
        Index("ix_jobs_owner_created", "owner", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(160), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    retry_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test must do
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _utc(now: datetime) -> datetime:
    """``now`` in UTC (a naive value is taken as UTC), so stored times compare in SQL."""
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


class JobRepository:
    """Jobs and their transitions. Takes a caller-owned Session; the caller commits."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # -- reading ---------------------------------------------------------------------------

    def get(self, job_id: int) -> Job | None:
        """The job, re-read from the database, or None."""
        return self._s.get(Job, job_id, populate_existing=True)

    # -- submitting and claiming -----------------------------------------------------------

    def submit(
        self,
        kind: str,
        spec: dict[str, Any],
        owner: str,
        *,
        now: datetime | None = None,
        retry_of: int | None = None,
    ) -> int:
        """Queue a job and return its id."""
        at = _utc(now or utcnow())
        job = Job(
            kind=kind,
            spec=spec,
            owner=owner,
            status="queued",
            progress=0.0,
            message="",
            attempt=0,
            cancel_requested=False,
            retry_of=retry_of,
            created_at=at,
            updated_at=at,
        )
        self._s.add(job)
        self._s.flush()
        return job.id

    def claim_next(
        self,
        worker: str,
        lease_s: float,
        now: datetime,
        kinds: Sequence[str] | None = None,
        *,
        host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> Job | None:
        """Move the oldest claimable job to ``running`` for ``worker``; None if none.

        Claimable: queued, or running with an expired lease (crash recovery), which
        includes the leases of dead workers (:meth:`reap_dead`, with ``host`` and
        ``alive``). Each claim adds one to ``attempt``. An expired job whose cancellation
        was requested is marked cancelled instead of being run again.
        """
        at = _utc(now)
        self.reap_dead(at, host=host, alive=alive)
        self._s.execute(
            update(Job)
            .where(Job.status == "running", Job.lease_until < at, Job.cancel_requested.is_(True))
            .values(
                status="cancelled", worker=None, lease_until=None, finished_at=at, updated_at=at
            )
            .execution_options(synchronize_session=False)
        )
        claimable = self._claimable(at, kinds)
        values: dict[str, Any] = {
            "status": "running",
            "worker": worker,
            "lease_until": at + timedelta(seconds=lease_s),
            "attempt": Job.attempt + 1,
            "started_at": at,
            "updated_at": at,
        }
        oldest = select(Job.id).where(claimable).order_by(Job.created_at, Job.id).limit(1)
        for _ in range(_CLAIM_RETRIES):
            if self._s.get_bind().dialect.name == "postgresql":
                job_id = self._s.scalar(oldest.with_for_update(skip_locked=True))
                if job_id is None:
                    return None
                target: ColumnElement[bool] = Job.id == job_id
            else:
                # One statement: SQLite evaluates the subquery under the write lock.
                target = Job.id == oldest.scalar_subquery()
            claimed = self._s.execute(
                update(Job)
                .where(target, claimable)
                .values(**values)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            if claimed is not None:
                return self.get(claimed)
            if self._s.scalar(oldest) is None:
                return None
            # Lost a race for that job: try the next one.
        return None

    def reap_dead(
        self,
        now: datetime,
        *,
        host: str | None = None,
        alive: Callable[[int], bool] = pid_alive,
    ) -> list[int]:
        """End at once the leases of running jobs whose worker is dead; their ids.

        A worker is dead when its ``job_workers`` record has expired, or when the record
        is of ``host`` (default this host) and ``alive(pid)`` is False. A job whose worker
        has no record at all keeps its lease (a worker writes its record only after its
        first claim when it runs jobs in-process). Each lease is ended by a conditional
        ``UPDATE`` on the lease read here, so a worker that renewed in between, or a
        claimer that took the job already, is left alone.
        """
        at = _utc(now)
        here = socket.gethostname() if host is None else host
        rows = self._s.execute(
            select(
                Job.id,
                Job.worker,
                Job.lease_until,
                JobWorker.host,
                JobWorker.pid,
                JobWorker.expires_at,
            )
            .join(JobWorker, JobWorker.name == Job.worker)
            .where(Job.status == "running", Job.lease_until >= at)
            .where(or_(JobWorker.expires_at <= at, JobWorker.host == here))
        ).all()
        reaped: list[int] = []
        for job_id, name, lease, w_host, w_pid, w_expires in rows:
            gone = w_host == here and not alive(w_pid)
            if not (gone or _utc(w_expires) <= at):
                continue
            why = (
                f"worker {name} died (pid {w_pid} on {w_host} is gone); back in the queue"
                if gone
                else f"worker {name} stopped renewing its record; back in the queue"
            )
            ended = self._s.execute(
                update(Job)
                .where(
                    Job.id == job_id,
                    Job.worker == name,
                    Job.status == "running",
                    Job.lease_until == lease,
                )
                .values(lease_until=at - _TICK, message=why, updated_at=at)
                .returning(Job.id)
                .execution_options(synchronize_session=False)
            ).scalar()
            if ended is not None:
                reaped.append(ended)
        return reaped

    @staticmethod
    def _claimable(at: datetime, kinds: Sequence[str] | None) -> ColumnElement[bool]:
        cond = or_(
            Job.status == "queued",
            and_(
                Job.status == "running",
                Job.lease_until < at,
                Job.cancel_requested.is_(False),
            ),
        )
        if kinds is not None:
            cond = and_(cond, Job.kind.in_(list(kinds)))
        return cond

    # -- the worker's writes ---------------------------------------------------------------

    def heartbeat(
        self,
        job_id: int,
        worker: str,
        fraction: float,
        message: str,
        now: datetime,
        *,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        """Record progress and renew the lease; returns whether cancellation was requested.

        Raises :class:`LeaseLostError` if ``worker`` no longer holds a live lease.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress must be a fraction between 0 and 1, not {fraction}")
        at = _utc(now)
        return self._held_update(
            job_id,
            worker,
            at,
            "report progress",
            progress=fraction,
            message=message,
            lease_until=at + timedelta(seconds=lease_s),
        )

    def finish(
        self, job_id: int, worker: str, result: dict[str, Any] | None, now: datetime
    ) -> None:
        """Mark the job done with its result reference (e.g. ``{"run_id": 7}``)."""
        at = _utc(now)
        self._held_update(
            job_id,
            worker,
            at,
            "finish",
            status="done",
            progress=1.0,
            result=result,
            lease_until=None,
            finished_at=at,
        )

    def fail(self, job_id: int, worker: str, error: str, now: datetime) -> None:
        """Mark the job failed with its error text."""
        at = _utc(now)
        self._held_update(
            job_id,
            worker,
            at,
            "fail",
            status="failed",
            error=error,
            lease_until=None,
            finished_at=at,
        )

    def mark_cancelled(self, job_id: int, worker: str, now: datetime) -> None:
        """Mark a running job cancelled once its worker has stopped (cancel requested)."""
        at = _utc(now)
        job = self._one(job_id)
        if job.status == "running" and not job.cancel_requested:
            raise IllegalTransitionError(
                f"job {job_id} has no cancellation request; a worker can only mark a job "
                "cancelled after someone asked to cancel it"
            )
        self._held_update(
            job_id,
            worker,
            at,
            "mark it cancelled",
            status="cancelled",
            lease_until=None,
            finished_at=at,
            extra=Job.cancel_requested.is_(True),
        )

    def release(self, job_id: int, worker: str, now: datetime, reason: str) -> None:
        """Put a running job back in the queue (its worker is stopping); ``attempt`` stays,
        so the next claim counts one more."""
        at = _utc(now)
        self._held_update(job_id, worker, at, "release it", lease_until=None, message=reason)
        # Held a moment ago (the statement above checked it): now hand it back.
        self._s.execute(
            update(Job)
            .where(Job.id == job_id, Job.worker == worker, Job.status == "running")
            .values(status="queued", worker=None)
            .execution_options(synchronize_session=False)
        )

    def _held_update(
        self,
        job_id: int,
        worker: str,
        at: datetime,
        action: str,
        *,
        extra: ColumnElement[bool] | None = None,
        **values: Any,
    ) -> bool:
        """Update the job ``worker`` holds; whether its cancellation was requested."""
        conds = [
            Job.id == job_id,
            Job.status == "running",
            Job.worker == worker,
            Job.lease_until >= at,
        ]
        if extra is not None:
            conds.append(extra)
        done = self._s.execute(
            update(Job)
            .where(*conds)
            .values(updated_at=at, **values)
            .returning(Job.cancel_requested)
            .execution_options(synchronize_session=False)
        ).first()
        if done is not None:
            return bool(done[0])
        job = self._one(job_id)
        if job.status != "running":
            raise IllegalTransitionError(
                f"job {job_id} is {job.status}; only a running job can {action}"
            )
        if job.worker != worker:
            raise LeaseLostError(
                f"job {job_id} is held by worker {job.worker}, not {worker}; "
                f"{worker} cannot {action}"
            )
        raise LeaseLostError(
            f"the lease of worker {worker} on job {job_id} has expired; it cannot {action}"
        )

    # -- the user's requests ---------------------------------------------------------------

    def request_cancel(self, job_id: int, by: str, now: datetime) -> str:
        """Cancel a queued job at once, or ask a running one's worker to stop.

        Returns the job's status afterwards (``cancelled`` or ``running``).
        """
        at = _utc(now)
        queued = self._s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="cancelled", message=f"cancelled by {by}", finished_at=at, updated_at=at)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if queued is not None:
            return "cancelled"
        running = self._s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running")
            .values(cancel_requested=True, message=f"cancel requested by {by}", updated_at=at)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).scalar()
        if running is not None:
            return "running"
        job = self._one(job_id)
        raise IllegalTransitionError(
            f"job {job_id} is {job.status}; only a queued or running job can be cancelled"
        )

    def retry(self, job_id: int, owner: str, now: datetime | None = None) -> int:
        """Queue a copy of a failed or cancelled job for ``owner``; returns the new id."""
        job = self._one(job_id)
        if job.status not in ("failed", "cancelled"):
            raise IllegalTransitionError(
                f"job {job_id} is {job.status}; only a failed or cancelled job can be retried"
            )
        return self.submit(job.kind, dict(job.spec), owner, now=now, retry_of=job_id)

    def _one(self, job_id: int) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFoundError(f"there is no job {job_id}")
        return job

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        owner: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, optionally filtered by status, kind and owner."""
        query = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Job.status == status)
        if kind is not None:
            query = query.where(Job.kind == kind)
        if owner is not None:
            query = query.where(Job.owner == owner)
        return list(self._s.scalars(query.execution_options(populate_existing=True)))


# -- the workers themselves -----------------------------------------------------------------

START_LOCK = "~autostart"
"""The ``job_workers`` row that one process at a time holds while it starts a worker."""


class JobWorker(Base):
    """A live ``workbench jobs worker`` process: who, where, and until when it is alive.

    A worker renews ``expires_at`` while it runs and deletes its row when it stops; the
    row named :data:`START_LOCK` is the short lease of a process starting a worker.
    """

    __tablename__ = "job_workers"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    kinds: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    job_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkerRepository:
    """Worker records and the start lock. Takes a caller-owned Session; the caller commits."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def beat(
        self,
        name: str,
        *,
        host: str,
        pid: int,
        now: datetime,
        ttl_s: float,
        kinds: Sequence[str] | None = None,
        job_id: int | None = None,
    ) -> None:
        """Create or renew the record of worker ``name`` (alive until ``now + ttl_s``)."""
        at = _utc(now)
        values: dict[str, Any] = {
            "host": host,
            "pid": pid,
            "kinds": None if kinds is None else list(kinds),
            "job_id": job_id,
            "heartbeat_at": at,
            "expires_at": at + timedelta(seconds=ttl_s),
        }
        renewed = self._s.execute(
            update(JobWorker)
            .where(JobWorker.name == name)
            .values(**values)
            .returning(JobWorker.name)
            .execution_options(synchronize_session=False)
        ).scalar()
        if renewed is None:
            self._insert_ignore({"name": name, "started_at": at, **values})

    def remove(self, name: str) -> None:
        """Delete the record of worker ``name`` (it stopped)."""
        self._s.execute(delete(JobWorker).where(JobWorker.name == name))

    def unexpired(self, now: datetime) -> list[JobWorker]:
        """Worker records not yet expired (the start lock excluded), oldest first."""
        query = (
            select(JobWorker)
            .where(JobWorker.expires_at > _utc(now), JobWorker.name != START_LOCK)
            .order_by(JobWorker.started_at, JobWorker.name)
            .execution_options(populate_existing=True)
        )
        return list(self._s.scalars(query))

    def take_start_lock(self, *, host: str, pid: int, now: datetime, ttl_s: float) -> bool:
        """Hold the start lock until ``now + ttl_s`` unless another live holder has it.

        Atomic across processes (a conditional ``UPDATE`` of an expired lock, else an
        ``INSERT ... ON CONFLICT DO NOTHING``): of two callers at once, one gets True.
        """
        at = _utc(now)
        values: dict[str, Any] = {
            "host": host,
            "pid": pid,
            "kinds": None,
            "job_id": None,
            "started_at": at,
            "heartbeat_at": at,
            "expires_at": at + timedelta(seconds=ttl_s),
        }
        taken = self._s.execute(
            update(JobWorker)
            .where(JobWorker.name == START_LOCK, JobWorker.expires_at <= at)
            .values(**values)
            .returning(JobWorker.name)
            .execution_options(synchronize_session=False)
        ).scalar()
        return taken is not None or self._insert_ignore({"name": START_LOCK, **values})

    def release_start_lock(self, *, host: str, pid: int) -> None:
        """Give the start lock up (only its holder's call does anything)."""
        self._s.execute(
            delete(JobWorker).where(
                JobWorker.name == START_LOCK, JobWorker.host == host, JobWorker.pid == pid
            )
        )

    def _insert_ignore(self, values: dict[str, Any]) -> bool:
        from core.store.paper import insert_ignore  # the dialects' insert, imported on use

        return insert_ignore(self._s, JobWorker, values)
