"""Saved-run operations: list the runs every page and command saves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.operations import Operation, register


class RunsRequest(BaseModel):
    """Which saved runs to list, newest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str | None = Field(
        title="Run kind",
        default=None,
        min_length=1,
        max_length=40,
        pattern="^[a-z_]+$",
        description="Only runs of this kind: backtest, sweep, portfolio, abtest, ...",
    )
    limit: int = Field(title="Rows", default=20, ge=1, le=10_000, description="Rows to list")


def runs_payload(rows: list[Any]) -> dict[str, Any]:
    """The JSON payload of a run listing."""
    return {
        "runs": [
            {
                "id": r.id,
                "kind": r.kind,
                "title": r.title,
                "status": r.status,
                "created_at": r.created_at.isoformat(),
                "metrics": r.metrics,
            }
            for r in rows
        ]
    }


def _runs_text(_rows: Any, payload: dict[str, Any]) -> str:
    return "\n".join(f"#{r['id']:<5} {r['kind']:<9} {r['title']}" for r in payload["runs"])


RUNS = register(
    Operation(
        name="runs",
        feature="runs",
        summary="List saved runs, newest first.",
        request=RunsRequest,
        service="app.services.runs:list_saved",
        payload=runs_payload,
        text=_runs_text,
    )
)

__all__ = ["RUNS", "RunsRequest", "runs_payload"]
