"""API routes: the paper trader: a session's status, start a worker, pause, resume and kill,
as the Paper page's controls and ``workbench paper status|pause|resume|kill``.

The worker is a separate process (``workbench paper run --session NAME``); these routes
write the desired state that it follows (:mod:`core.paper.control`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES, Conflict, NotFound
from app.api.ops import run_operation
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller
from app.operations.paper import (
    SESSION_MAX,
    SESSION_PATTERN,
    KillRequest,
    PaperRequest,
    PauseRequest,
    ResumeRequest,
    StatusRequest,
)
from app.services import paper
from core.paper.session import MAX_SPEED, MAX_STEPS

router = APIRouter(
    prefix=f"{API_PREFIX}/paper",
    tags=["paper"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)


class PaperStarted(BaseModel):
    """A started paper worker."""

    session: str
    pid: int


@router.get(
    "/status",
    summary="A paper session's status",
    description="Session, feed, market clock, control state, heartbeat (and its age), whether "
    "a worker is alive, account, positions and order counts of one session (default: the "
    "newest); what `workbench paper status --json` prints. 404 for an unknown session.",
)
def status(
    actor: Caller,
    session: Annotated[
        str | None,
        Query(pattern=SESSION_PATTERN, max_length=SESSION_MAX, description="Session name"),
    ] = None,
) -> dict[str, Any]:
    payload = run_operation("paper status", StatusRequest(session=session), actor)
    if session is not None and payload["session"] is None:
        raise NotFound(f"there is no paper session {session!r}; start one first")
    return payload


@router.post(
    "/start",
    summary="Start a paper worker",
    description="Create the session (or check a stored one's settings) and start `workbench "
    "paper run --session NAME` in its own process (the trader role); 202 with its pid. "
    "`speed` is bars per second (0: as fast as it can), `steps` the bars to run (default: to "
    "the end of the data). 409 when a worker already runs the session.",
    status_code=202,
    response_model=PaperStarted,
)
def start(
    request: PaperRequest,
    actor: Caller,
    speed: Annotated[float, Query(ge=0, le=MAX_SPEED, description="Bars per second")] = 0.0,
    steps: Annotated[int | None, Query(ge=1, le=MAX_STEPS, description="Bars to run")] = None,
) -> PaperStarted:
    try:
        pid = paper.start_worker_process(request, speed=speed, steps=steps, actor=actor)
    except ValueError as exc:
        if paper.monitor(StatusRequest(session=request.session)).alive:
            raise Conflict(str(exc)) from exc
        raise
    return PaperStarted(session=request.session, pid=pid)


@router.post(
    "/pause",
    summary="Pause the paper trader",
    description="Pause the running worker after its current bar (the trader role; audited). "
    "When no worker runs, nothing changes and `changed` is false with the reason.",
)
def pause(actor: Caller, request: PauseRequest | None = None) -> dict[str, Any]:
    return run_operation("paper pause", request or PauseRequest(), actor)


@router.post(
    "/resume",
    summary="Resume the paper trader",
    description="Resume a paused worker (the trader role; audited). When none is paused, "
    "nothing changes and `changed` is false with the reason.",
)
def resume(actor: Caller, request: ResumeRequest | None = None) -> dict[str, Any]:
    return run_operation("paper resume", request or ResumeRequest(), actor)


@router.post(
    "/kill",
    summary="Kill switch",
    description="Cancel open orders and (unless `flatten` is false) flatten every position; a "
    "running worker does it at once, a session no worker runs is flattened now (the trader "
    "role; audited).",
)
def kill(actor: Caller, request: KillRequest | None = None) -> dict[str, Any]:
    return run_operation("paper kill", request or KillRequest(), actor)
