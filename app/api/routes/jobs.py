"""API routes: long operations as jobs: submit (one typed path per operation), list, status,
result and cancel, over :mod:`app.services.jobs`.

Every operation declared ``long_running`` gets ``POST /api/v1/jobs/<name>`` (spaces as
"-"), its body that operation's own request model; the job runs in the ``workbench jobs
worker`` process as its owner, the token's user. A job's status, result and cancel are
its owner's or a PM's (:func:`app.services.jobs_roles.may_manage`).
"""

# No ``from __future__ import annotations``: each submit route's body annotation is the
# operation's request class itself, which FastAPI must see as a class, not a name.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES, Conflict
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller, JobId
from app.operations import Operation, all_operations
from app.services import jobs
from app.services.auth import Actor
from app.services.jobs_roles import MANAGER_ROLE, may_manage
from app.services.jobs_view import JobView

router = APIRouter(
    prefix=f"{API_PREFIX}/jobs",
    tags=["jobs"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)


class JobLinks(BaseModel):
    """Where to follow a job."""

    self: str = Field(description="GET: the job's status and progress")
    result: str = Field(description="GET: its result once done")
    cancel: str = Field(description="POST: cancel it")


class JobAccepted(BaseModel):
    """A queued job."""

    job_id: int
    status: str = Field(description="queued (or already running)")
    operation: str = Field(description="The operation it runs, e.g. sweep")
    links: JobLinks


class JobCancel(BaseModel):
    """What a cancel did."""

    job_id: int
    status: str = Field(description="cancelled, or still running until its worker stops it")
    message: str


def path_of(op: Operation) -> str:
    """The job path segment of an operation: its name, spaces as "-"."""
    return op.name.replace(" ", "-")


def _links(job_id: int) -> JobLinks:
    base = f"{API_PREFIX}/jobs/{job_id}"
    return JobLinks(self=base, result=f"{base}/result", cancel=f"{base}/cancel")


def _submit_route(op: Operation) -> None:
    """``POST /jobs/<op>``: the operation's request model as the body, 202 with the job."""
    model = op.request

    def submit(request: model, actor: Caller) -> JobAccepted:  # type: ignore[valid-type]
        job_id = jobs.submit(op.name, request, actor=actor)
        status = jobs.get_job(job_id).status
        return JobAccepted(job_id=job_id, status=status, operation=op.name, links=_links(job_id))

    router.add_api_route(
        f"/{path_of(op)}",
        submit,
        methods=["POST"],
        status_code=202,
        response_model=JobAccepted,
        name=f"submit_{path_of(op).replace('-', '_')}",
        summary=f"Submit a {op.name} job",
        description=f"{op.summary} Runs as a job in the `workbench jobs worker` process, as "
        f"the token's user; the body is the {model.__name__} that `workbench {op.name}` "
        "takes. Answers 202 at once with the job's id and links: follow `self` until the "
        "status is done, then GET `result`.",
    )


JOB_OPERATIONS: tuple[Operation, ...] = tuple(op for op in all_operations() if op.long_running)
"""The operations offered as jobs (every long-running one, as ``workbench ... --job``)."""

for _op in JOB_OPERATIONS:
    _submit_route(_op)


def _managed(job_id: int, actor: Actor, action: str) -> JobView:
    """The job, if ``actor`` owns it or is a PM (404 unknown, 403 someone else's)."""
    job = jobs.get_job(job_id)
    may_manage(job, actor, action)
    return job


@router.get(
    "",
    summary="List jobs",
    description="Jobs newest first: the caller's own, or everyone's for a PM; optionally only "
    "those of one status.",
    response_model=list[JobView],
)
def list_jobs(
    actor: Caller,
    status: Annotated[
        str | None,
        Query(
            max_length=16,
            description="Only jobs of this status: queued, running, done, failed or cancelled",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Newest jobs listed")] = 100,
) -> list[JobView]:
    owner = None if actor.has(MANAGER_ROLE) else actor.name
    return jobs.list_jobs(owner=owner, status=status, limit=limit)


@router.get(
    "/{job_id}",
    summary="A job's status",
    description="Status, progress, message, timestamps, owner, request and (once done) result "
    "of one job (its owner or a PM).",
    response_model=JobView,
)
def job_status(job_id: JobId, actor: Caller) -> JobView:
    return _managed(job_id, actor, "viewing")


@router.get(
    "/{job_id}/result",
    summary="A job's result",
    description="The finished job's result: the operation's JSON payload, as `workbench "
    "<operation> --json` prints it. 409 while it is queued or running (with its progress), "
    "and for a failed or cancelled job (with its error).",
)
def job_result(job_id: JobId, actor: Caller) -> dict[str, Any]:
    job = _managed(job_id, actor, "reading the result of")
    if job.status == "done":
        return job.result or {}
    if job.status in ("queued", "running"):
        raise Conflict(
            f"job {job_id} is {job.status} ({job.progress:.0%}: {job.message}); its result is "
            f"there once it is done: follow {API_PREFIX}/jobs/{job_id}"
        )
    why = job.error or job.message or "no reason recorded"
    ended = "failed" if job.status == "failed" else "was cancelled"
    raise Conflict(f"job {job_id} {ended} and has no result: {why}")


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job",
    description="Cancel a queued job at once, or ask a running job's worker to stop it "
    "(within a second); its owner or a PM. 409 when the job has already finished.",
    response_model=JobCancel,
)
def cancel_job(job_id: JobId, actor: Caller) -> JobCancel:
    job = _managed(job_id, actor, "cancelling")
    if job.finished:
        raise Conflict(f"job {job_id} is already {job.status}; there is nothing to cancel")
    message = jobs.cancel_job(job_id, actor=actor)
    return JobCancel(job_id=job_id, status=jobs.get_job(job_id).status, message=message)
