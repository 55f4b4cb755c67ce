"""Model-registry operations: list, register, promote, roll back, retention, live tests and
promotion requests; requests and descriptors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.operations import Flag, Operation, register
from app.operations.fields import ROW_ID_MAX


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class VersionsRequest(_Request):
    """Which registered versions to list."""

    name: str | None = Field(
        title="Model name", default=None, min_length=1, description="Only this model name"
    )


class RegisterRequest(_Request):
    """Register a saved training run's model as a new candidate version."""

    run_id: int = Field(
        title="Training run", ge=1, le=ROW_ID_MAX, description="Saved training run id"
    )
    name: str = Field(
        title="Model name",
        description=(
            "Model name: 1-64 letters, digits, '-' or '_' (an existing name adds a version)"
        ),
    )


class PromoteRequest(_Request):
    """Make a version the champion of its name (the previous champion is archived)."""

    version_id: int = Field(
        title="Version id", ge=1, le=ROW_ID_MAX, description="Version id (see registry list)"
    )
    reason: str = Field(title="Reason", default="", description="Why (kept in the audit trail)")


class RollbackRequest(_Request):
    """Restore the champion that the current champion of ``name`` replaced."""

    name: str = Field(title="Model name", min_length=1, description="Model name")
    reason: str = Field(title="Reason", default="", description="Why (kept in the audit trail)")


class RetainRequest(_Request):
    """Retention: keep the champion, previous champions and the best N candidates."""

    keep: int | None = Field(
        title="Keep",
        default=None,
        ge=0,
        le=1000,
        description="Best candidates kept per model (default: the registry_keep setting)",
    )
    metric: str = Field(
        title="Ranking metric",
        default="roc_auc",
        min_length=1,
        description="Out-of-sample metric that ranks candidates (log_loss, brier: lower wins)",
    )
    name: str | None = Field(
        title="Model name", default=None, min_length=1, description="Only this model name"
    )
    dry_run: bool = Field(
        title="Dry run", default=False, description="Show what would be deleted; delete nothing"
    )


class LiveTestsRequest(_Request):
    """Which live A/B tests to list."""

    limit: int = Field(title="Rows", default=20, ge=1, le=500, description="Newest tests listed")
    path: bool = Field(
        title="Log-LR path", default=False, description="Include each test's log-LR path"
    )


class PromotionsRequest(_Request):
    """Which promotion requests to list."""

    all: bool = Field(
        title="All requests", default=False, description="Every request, not only the pending ones"
    )


class DecidePromotionRequest(_Request):
    """Approve or reject a pending promotion request (PM)."""

    request_id: int = Field(
        title="Promotion request id",
        ge=1,
        le=ROW_ID_MAX,
        description="Promotion request id (see registry promotions)",
    )
    reason: str = Field(title="Reason", default="", description="Why (kept in the audit trail)")


def _retain_payload(plan: Any) -> dict[str, Any]:
    return dict(plan.as_dict())


def _retain_text(plan: Any, payload: dict[str, Any]) -> str:
    lines = [
        f"delete #{i['id']} {i['name']} v{i['version']}: {i['why']}" for i in payload["deleted"]
    ]
    lines.append(
        f"kept {len(payload['kept'])} version(s), deleted {len(payload['deleted'])} "
        f"(best {payload['keep']} candidate(s) by {payload['metric']})"
    )
    return "\n".join(lines)


def _tests_text(rows: Any, payload: dict[str, Any]) -> str:
    lines = [
        f"#{t['id']} {t['session']}: {t['challenger']} vs {t['champion']} — {t['decision']} "
        f"after {t['n']} bars (log LR {t['log_lr']}, bounds {t['lower']:.3f}/{t['upper']:.3f})"
        for t in payload["tests"]
    ]
    return "\n".join(lines) or "no live A/B tests"


def _promotions_text(rows: Any, payload: dict[str, Any]) -> str:
    lines = [
        f"#{r['id']} {r['model']} version #{r['version_id']} {r['status']}: {r['rule']}"
        for r in payload["requests"]
    ]
    return "\n".join(lines) or "no promotion requests"


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

RETAIN = register(
    Operation(
        name="registry retain",
        feature="registry",
        summary="Delete the artifacts of all but the champions and the best N candidates.",
        request=RetainRequest,
        service="app.services.registry_loop:retain",
        payload=_retain_payload,
        text=_retain_text,
        actor=True,
    )
)
TESTS = register(
    Operation(
        name="registry tests",
        feature="registry",
        summary="Live A/B tests (SPRT) of shadow challengers against their champions.",
        request=LiveTestsRequest,
        service="app.services.registry_loop:live_tests",
        payload=lambda rows: {"tests": [t.as_dict() for t in rows]},
        text=_tests_text,
    )
)
PROMOTIONS = register(
    Operation(
        name="registry promotions",
        feature="registry",
        summary="Promotion requests of live tests (pending ones by default).",
        request=PromotionsRequest,
        service="app.services.registry_loop:promotion_requests",
        payload=lambda rows: {"requests": list(rows)},
        text=_promotions_text,
    )
)
APPROVE = register(
    Operation(
        name="registry approve",
        feature="registry",
        summary="Approve a pending promotion: the version becomes champion (PM).",
        request=DecidePromotionRequest,
        service="app.services.registry_loop:approve_promotion",
        payload=dict,
        text=lambda row, _p: (
            f"request #{row['id']} approved: version #{row['version_id']} promoted"
        ),
        flags={"request_id": Flag(argument=True)},
        actor=True,
    )
)
REJECT = register(
    Operation(
        name="registry reject",
        feature="registry",
        summary="Reject a pending promotion (PM).",
        request=DecidePromotionRequest,
        service="app.services.registry_loop:reject_promotion",
        payload=dict,
        text=lambda row, _p: f"request #{row['id']} rejected",
        flags={"request_id": Flag(argument=True)},
        actor=True,
    )
)

__all__ = [
    "APPROVE",
    "LIST",
    "PROMOTE",
    "PROMOTIONS",
    "REGISTER",
    "REJECT",
    "RETAIN",
    "ROLLBACK",
    "TESTS",
    "DecidePromotionRequest",
    "LiveTestsRequest",
    "PromoteRequest",
    "PromotionsRequest",
    "RegisterRequest",
    "RetainRequest",
    "RollbackRequest",
    "VersionsRequest",
]
