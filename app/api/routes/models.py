"""API routes: the model registry: list versions, promote one, roll back (PM), as
``workbench registry list|promote|rollback``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.ops import run_operation
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller
from app.operations.registry import PromoteRequest, RollbackRequest, VersionsRequest

router = APIRouter(
    prefix=f"{API_PREFIX}/models",
    tags=["models"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)


@router.get(
    "",
    summary="List registered model versions",
    description="Every registered version (or those of one model name), newest first: stage, "
    "metrics, training window, checksum; what `workbench registry list --json` prints.",
)
def list_models(
    actor: Caller,
    name: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this model name")
    ] = None,
) -> dict[str, Any]:
    return run_operation("registry list", VersionsRequest(name=name), actor)


@router.post(
    "/promote",
    summary="Promote a version to champion",
    description="Make a version the champion of its name; the previous champion is archived. "
    "The PM role; the reason is kept in the registry's audit trail with the token's user.",
)
def promote(request: PromoteRequest, actor: Caller) -> dict[str, Any]:
    return run_operation("registry promote", request, actor)


@router.post(
    "/rollback",
    summary="Roll back a model's champion",
    description="Restore the champion that the current champion of `name` replaced; the "
    "current one is archived. The PM role; the reason is kept in the audit trail.",
)
def rollback(request: RollbackRequest, actor: Caller) -> dict[str, Any]:
    return run_operation("registry rollback", request, actor)
