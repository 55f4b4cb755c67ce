"""API routes: liveness (``/healthz``), readiness (``/readyz``) and who the token acts as."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.paths import API_PREFIX
from app.services.auth import Actor

router = APIRouter(tags=["system"])


class Health(BaseModel):
    """The process answers."""

    status: str = Field(description="ok")


class Readiness(BaseModel):
    """Whether the process can serve requests, and if not why."""

    status: str = Field(description="ready or not_ready")
    reason: str | None = Field(default=None, description="Why not ready (503)")


class WhoAmI(BaseModel):
    """The user a token acts as."""

    user: str = Field(description="The token's user")
    roles: list[str] = Field(description="The roles it grants now")
    via: str = Field(description='How the user came in, e.g. "api token 7" (in the audit)')


@router.get(
    "/healthz",
    summary="Liveness",
    description="200 while the process answers; no database access, no token.",
    response_model=Health,
)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 when the database answers and its schema is at the migrations' head, "
    "else 503 with the reason; no token.",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready, with the reason"}},
)
def readyz() -> Readiness | JSONResponse:
    from app.services.health import not_ready_reason

    reason = not_ready_reason()
    if reason is None:
        return Readiness(status="ready")
    return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)


@router.get(
    f"{API_PREFIX}/whoami",
    summary="Who the token acts as",
    description="The token's user, the roles it grants now (its own roles, in signed-in "
    "mode never more than the user holds) and how it is named in the audit.",
    response_model=WhoAmI,
    responses=ERROR_RESPONSES,
)
def whoami(actor: Actor = Depends(current_actor)) -> WhoAmI:
    return WhoAmI(user=actor.name, roles=sorted(actor.roles), via=actor.via)
