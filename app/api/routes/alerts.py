"""API routes: alert rules, channels (URLs always masked) and the history of alerts, as the
Alerts page and ``workbench alerts``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.ops import run_operation
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller
from app.operations.alerts import AlertLogRequest, AlertRuleRequest, ChannelRequest
from app.services import alerts
from core.alerts import AlertRuleSpec

router = APIRouter(
    prefix=f"{API_PREFIX}/alerts",
    tags=["alerts"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)


class Channel(BaseModel):
    """A channel as anyone may see it: its URL masked, never in clear."""

    name: str
    url: str = Field(description="The apprise URL, masked")
    enabled: bool


@router.get(
    "/rules",
    summary="List alert rules",
    description="Every rule: what it watches, its threshold, channels, severity, cooldown and "
    "whether it is enabled (a stored rule that no longer validates comes back disabled).",
    response_model=list[AlertRuleSpec],
)
def list_rules() -> list[AlertRuleSpec]:
    return alerts.list_rules()


@router.post(
    "/rules",
    summary="Add or replace an alert rule",
    description="Save a rule (the risk role; audited with the token's user); its channels must "
    "exist. Validated as the rule itself: each bad field gets a plain sentence.",
)
def add_rule(request: AlertRuleRequest, actor: Caller) -> dict[str, Any]:
    return run_operation("alerts rule add", request, actor)


@router.get(
    "/channels",
    summary="List alert channels",
    description="Every channel with its URL masked (the secret parts of an apprise URL are "
    "never returned; nothing is decrypted).",
    response_model=list[Channel],
)
def list_channels() -> list[Channel]:
    return [Channel(**row) for row in alerts.list_channels()]


@router.post(
    "/channels",
    summary="Add or replace an alert channel",
    description="Save a channel (the risk role; audited with the masked URL): its apprise URL is "
    "checked, stored encrypted, and returned masked.",
)
def add_channel(request: ChannelRequest, actor: Caller) -> dict[str, Any]:
    return run_operation("alerts channel add", request, actor)


@router.get(
    "/history",
    summary="Alert history",
    description="Delivered, failed and suppressed alerts, newest first (the in-app inbox); "
    "what `workbench alerts history --json` prints.",
)
def history(
    actor: Caller,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description=AlertLogRequest.model_fields["limit"].description)
    ] = 50,
) -> dict[str, Any]:
    return run_operation("alerts history", AlertLogRequest(limit=limit), actor)
