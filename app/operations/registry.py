"""Model-registry operations: list, register, promote, roll back; requests and descriptors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.operations import Flag, Operation, register


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class VersionsRequest(_Request):
    """Which registered versions to list."""

    name: str | None = Field(default=None, min_length=1, description="Only this model name")


class RegisterRequest(_Request):
    """Register a saved training run's model as a new candidate version."""

    run_id: int = Field(ge=1, description="Saved training run id")
    name: str = Field(
        description="Model name: 1-64 letters, digits, '-' or '_' (an existing name adds a version)"
    )


class PromoteRequest(_Request):
    """Make a version the champion of its name (the previous champion is archived)."""

    version_id: int = Field(ge=1, description="Version id (see registry list)")
    reason: str = Field(default="", description="Why (kept in the audit trail)")


class RollbackRequest(_Request):
    """Restore the champion that the current champion of ``name`` replaced."""

    name: str = Field(min_length=1, description="Model name")
    reason: str = Field(default="", description="Why (kept in the audit trail)")


def versions_payload(rows: Any) -> dict[str, Any]:
    """The JSON payload of a registry listing."""
    return {"versions": [v.as_dict() for v in rows]}


def _versions_text(rows: Any, payload: dict[str, Any]) -> str:
    lines = [
        f"#{r['id']:<4} {r['name']} v{r['version']:<3} {r['kind']:<13} {r['stage']:<9} "
        f"auc={r['metrics'].get('roc_auc')}"
        for r in payload["versions"]
    ]
    return "\n".join(lines) or "no registered models"


def version_payload(row: Any) -> dict[str, Any]:
    """The JSON payload of one version."""
    return dict(row.as_dict())


LIST = register(
    Operation(
        name="registry list",
        feature="registry",
        summary="Registered model versions, with stage and metrics.",
        request=VersionsRequest,
        service="app.services.registry:list_versions",
        payload=versions_payload,
        text=_versions_text,
    )
)
REGISTER = register(
    Operation(
        name="registry register",
        feature="registry",
        summary="Register a training run's model as a new candidate version.",
        request=RegisterRequest,
        service="app.services.registry:register",
        payload=version_payload,
        text=lambda row, _p: f"registered {row.name} v{row.version} as a candidate",
        actor=True,
    )
)
PROMOTE = register(
    Operation(
        name="registry promote",
        feature="registry",
        summary="Make a version the champion (the previous champion is archived).",
        request=PromoteRequest,
        service="app.services.registry:promote",
        payload=version_payload,
        text=lambda row, _p: f"{row.name} v{row.version} is now champion",
        flags={"version_id": Flag(argument=True)},
        actor=True,
    )
)
ROLLBACK = register(
    Operation(
        name="registry rollback",
        feature="registry",
        summary="Restore the previous champion.",
        request=RollbackRequest,
        service="app.services.registry:rollback",
        payload=version_payload,
        text=lambda row, _p: f"{row.name} v{row.version} is champion again",
        flags={"name": Flag(argument=True)},
        actor=True,
    )
)

__all__ = [
    "LIST",
    "PROMOTE",
    "REGISTER",
    "ROLLBACK",
    "PromoteRequest",
    "RegisterRequest",
    "RollbackRequest",
    "VersionsRequest",
]
