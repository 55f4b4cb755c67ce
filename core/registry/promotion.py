"""The promotion policy of a live test: promote at once (``auto``) or ask a PM (``approval``).

Every step is audited in the registry's trail (``model_events``): ``auto`` promotes with
the deciding rule as the reason (actor ``model-loop``); ``approval`` records a pending
:class:`~core.store.model_loop.PromotionRequest` and a ``request_promote`` event; the PM's
:func:`approve` promotes (reason: the PM's words and the rule) and :func:`reject` writes a
``reject_promote`` event. The caller owns the transaction.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy.orm import Session

from core.registry._registry import ModelRegistry
from core.store.base import utcnow
from core.store.model_loop import ModelLoopRepository, PromotionRequest
from core.store.registry import RegistryRepository

Policy = Literal["auto", "approval"]
LOOP_ACTOR = "model-loop"


def request_promotion(
    session: Session,
    *,
    version_id: int,
    rule: str,
    policy: str,
    test_id: int | None = None,
    actor: str = LOOP_ACTOR,
) -> PromotionRequest:
    """Apply ``policy`` to a version a rule found better (see the module docstring)."""
    if policy not in ("auto", "approval"):
        raise ValueError(f"promotion must be 'auto' or 'approval', got {policy!r}")
    registry = ModelRegistry(session)
    row = registry.get(version_id)
    request = PromotionRequest(
        test_id=test_id,
        model_name=row.name,
        version_id=version_id,
        status="pending",
        rule=rule,
        requested_by=actor,
        reason="",
    )
    if policy == "auto":
        if row.stage != "champion":
            registry.promote(version_id, reason=f"auto promotion: {rule}", actor=actor)
        request.status, request.decided_by, request.decided_at = "promoted", actor, utcnow()
        request.reason = "auto promotion"
    else:
        RegistryRepository(session).add_event(
            name=row.name,
            version_id=version_id,
            action="request_promote",
            from_stage=row.stage,
            to_stage=row.stage,
            reason=f"pending PM approval: {rule}",
            actor=actor,
        )
    return ModelLoopRepository(session).add(request)  # type: ignore[no-any-return]


def _pending(session: Session, request_id: int) -> PromotionRequest:
    request = ModelLoopRepository(session).promotion_request(request_id)
    if request is None:
        raise LookupError(f"no promotion request {request_id}")
    if request.status != "pending":
        raise ValueError(f"promotion request {request_id} is already {request.status}")
    return request


def approve(session: Session, request_id: int, *, actor: str, reason: str = "") -> PromotionRequest:
    """Promote the version of a pending request (audited with the PM and the rule)."""
    request = _pending(session, request_id)
    words = f"{reason.strip()}; " if reason.strip() else ""
    ModelRegistry(session).promote(
        request.version_id, reason=f"approved by {actor}: {words}{request.rule}", actor=actor
    )
    request.status, request.decided_by, request.decided_at = "approved", actor, utcnow()
    request.reason = reason.strip()
    session.flush()
    return request


def reject(session: Session, request_id: int, *, actor: str, reason: str = "") -> PromotionRequest:
    """Close a pending request without promoting (audited)."""
    request = _pending(session, request_id)
    stage = ModelRegistry(session).get(request.version_id).stage
    RegistryRepository(session).add_event(
        name=request.model_name,
        version_id=request.version_id,
        action="reject_promote",
        from_stage=stage,
        to_stage=stage,
        reason=f"rejected by {actor}: {reason.strip() or 'no reason given'} ({request.rule})",
        actor=actor,
    )
    request.status, request.decided_by, request.decided_at = "rejected", actor, utcnow()
    request.reason = reason.strip()
    session.flush()
    return request


__all__ = ["LOOP_ACTOR", "Policy", "approve", "reject", "request_promotion"]
