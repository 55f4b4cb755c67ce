"""The model loop for the pages and the CLI: live A/B tests, promotion requests, retention.

Roles: approving or rejecting a promotion needs ``pm``; deleting artifacts (retention
without ``dry_run``) needs ``pm``; listing needs nothing. The rules are core's
(:mod:`core.registry.promotion`, :mod:`core.registry.retention`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.operations.registry import (
    DecidePromotionRequest,
    LiveTestsRequest,
    PromotionsRequest,
    RetainRequest,
)
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.config import get_settings
from core.registry import promotion
from core.registry.retention import RetentionPlan, apply_retention, plan_retention
from core.store.db import session_scope
from core.store.model_loop import LiveTest, ModelLoopRepository, PromotionRequest


@dataclass(frozen=True)
class LiveTestView:
    """A live SPRT as users see it, with its log-LR path."""

    id: int
    session: str
    champion: str
    challenger: str
    challenger_version_id: int
    state: str
    decision: str
    log_lr: float | None
    n: int
    upper: float
    lower: float
    promotion: str
    rule: str
    path: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


POINT_FIELDS = ("t", "ts", "n", "log_lr", "champion_return", "challenger_return")
VIEW_FIELDS = tuple(f for f in LiveTestView.__dataclass_fields__ if f not in ("session", "path"))


def _view(test: LiveTest, repo: ModelLoopRepository, with_path: bool) -> LiveTestView:
    points = repo.points(test.id) if with_path else []
    path = [{k: getattr(p, k) for k in POINT_FIELDS} for p in points]
    fields = {k: getattr(test, k) for k in VIEW_FIELDS}
    return LiveTestView(session=test.session_name, path=path, **fields)


def live_tests(request: LiveTestsRequest | None = None) -> list[LiveTestView]:
    """Live A/B tests, newest first, each with its path."""
    request = request or LiveTestsRequest()
    with session_scope(get_engine()) as s:
        repo = ModelLoopRepository(s)
        return [_view(t, repo, request.path) for t in repo.tests(limit=request.limit)]


REQUEST_FIELDS = "id test_id version_id status rule requested_by decided_by reason".split()


def _request_dict(r: PromotionRequest) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in REQUEST_FIELDS} | {"model": r.model_name}
    for k in ("created_at", "decided_at"):
        value = getattr(r, k)
        out[k] = value.isoformat() if value else None
    return out


def promotion_requests(request: PromotionsRequest | None = None) -> list[dict[str, Any]]:
    """Promotion requests, newest first (pending only by default)."""
    request = request or PromotionsRequest()
    status = None if request.all else ("pending",)
    with session_scope(get_engine()) as s:
        return [_request_dict(r) for r in ModelLoopRepository(s).promotion_requests(status=status)]


def approve_promotion(request: DecidePromotionRequest, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Promote the version of a pending request (audited with the PM's name)."""
    require(actor, "pm", "approving a promotion")
    with session_scope(get_engine()) as s:
        done = promotion.approve(s, request.request_id, actor=actor.name, reason=request.reason)
        return _request_dict(done)


def reject_promotion(request: DecidePromotionRequest, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Close a pending request without promoting (audited)."""
    require(actor, "pm", "rejecting a promotion")
    with session_scope(get_engine()) as s:
        return _request_dict(
            promotion.reject(s, request.request_id, actor=actor.name, reason=request.reason)
        )


def retain(request: RetainRequest, *, actor: Actor = LOCAL) -> RetentionPlan:
    """Plan retention (``dry_run``) or apply it: every deletion is audited."""
    keep = request.keep if request.keep is not None else get_settings().registry_keep
    if not request.dry_run:
        require(actor, "pm", "deleting model artifacts")
    with session_scope(get_engine()) as s:
        plan = plan_retention(s, keep=keep, metric=request.metric, name=request.name)
        if not request.dry_run:
            apply_retention(s, plan, actor=actor.name)
    return plan


__all__ = [
    "LiveTestView",
    "approve_promotion",
    "live_tests",
    "promotion_requests",
    "reject_promotion",
    "retain",
]
