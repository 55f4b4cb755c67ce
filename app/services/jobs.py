"""Long operations as persisted jobs: submit, follow, cancel, retry (issue 12).

A job is one row of :class:`core.store.jobs.Job`: the operation's name as ``kind``, its
validated request as ``spec``, the owner, status, progress and the result payload. A
``workbench jobs worker`` process (:mod:`app.services.jobs_worker`) runs them;
:func:`submit` starts one when none is alive (:mod:`app.services.jobs_supervisor`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from app.operations import get
from app.services.auth import Actor
from app.services.db import get_engine
from app.services.jobs_roles import MANAGER_ROLE, may_manage
from app.services.jobs_supervisor import ensure_worker
from app.services.jobs_view import JobView, view
from core.store.base import utcnow
from core.store.db import session_scope
from core.store.jobs import STATUSES, IllegalTransitionError, JobRepository


def _jobs() -> Any:
    return session_scope(get_engine())


def submit(operation: str, request: BaseModel, *, actor: Actor) -> int:
    """Queue ``request`` as a job of the long operation ``operation``; its id.

    Starts a worker if none is alive (unless ``WORKBENCH_JOBS_AUTOSTART=0``).
    """
    try:
        op = get(operation)
    except KeyError:
        raise ValueError(f"there is no operation {operation!r} to run as a job") from None
    if not op.long_running:
        raise ValueError(f"{operation} is not a long operation; run it directly, not as a job")
    if not isinstance(request, op.request):
        given = type(request).__name__
        raise ValueError(f"{operation} takes a {op.request.__name__}, not a {given}")
    spec = request.model_dump(mode="json")
    op.request.model_validate(spec)  # what the worker will rebuild
    with _jobs() as session:
        job_id = JobRepository(session).submit(operation, spec, actor.name)
    ensure_worker()
    return job_id


def get_job(job_id: int) -> JobView:
    """The job ``job_id``; LookupError when there is none."""
    with _jobs() as session:
        job = JobRepository(session).get(job_id)
        if job is None:
            raise LookupError(f"no job {job_id}")
        return view(job)


def list_jobs(
    *,
    kind: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[JobView]:
    """Jobs, newest first, filtered by kind, owner and status."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if not 1 <= limit <= 10_000:
        raise ValueError(f"limit must be between 1 and 10,000, not {limit}")
    with _jobs() as session:
        rows = JobRepository(session).list(kind=kind, owner=owner, status=status, limit=limit)
        return [view(job) for job in rows]


@contextmanager
def _managing() -> Iterator[JobRepository]:
    """The repository in one transaction; a refused transition becomes a ValueError."""
    try:
        with _jobs() as session:
            yield JobRepository(session)
    except IllegalTransitionError as exc:
        raise ValueError(str(exc)) from None


def cancel_job(job_id: int, *, actor: Actor) -> str:
    """Cancel a queued job, or ask a running one's worker to stop; what happened."""
    may_manage(get_job(job_id), actor, "cancelling")
    with _managing() as repo:
        after = repo.request_cancel(job_id, actor.name, utcnow())
    if after == "cancelled":
        return f"job {job_id} was queued and is now cancelled"
    return f"job {job_id} is running: its worker was asked to stop (within a second)"


def retry_job(job_id: int, *, actor: Actor) -> int:
    """Queue a copy of a failed or cancelled job, owned by ``actor``; the new job's id."""
    may_manage(get_job(job_id), actor, "retrying")
    with _managing() as repo:
        new_id = repo.retry(job_id, actor.name, utcnow())
    ensure_worker()
    return new_id


def wait_job(job_id: int, *, timeout_s: float, poll_s: float = 0.2) -> JobView:
    """The job once it has finished; TimeoutError (naming its status) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = get_job(job_id)
        if job.finished:
            return job
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"job {job_id} is still {job.status} ({job.progress:.0%}) after "
                f"{timeout_s:g} s; wait longer, or cancel it"
            )
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def request_of(job: JobView) -> BaseModel:
    """The typed request of ``job``, rebuilt from its spec."""
    return get(job.kind).request.model_validate(job.spec)


def run_pending(*, max_jobs: int | None = None) -> int:
    """Run queued jobs in this process until none is left (or ``max_jobs``); how many."""
    from app.services.jobs_worker import JobWorker

    return JobWorker(get_engine()).run_pending(max_jobs=max_jobs)


__all__ = [
    "MANAGER_ROLE",
    "JobView",
    "cancel_job",
    "ensure_worker",
    "get_job",
    "list_jobs",
    "request_of",
    "retry_job",
    "run_pending",
    "submit",
    "wait_job",
]
