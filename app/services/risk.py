"""Risk services: the versioned, audited limits in force, changes to them, and the
pre-trade check of one order.

Every change needs the ``risk`` role and a reason, and is stored as a new version with
who, when, the old and the new values (:mod:`core.risk.versions`). The newest version
applies from the next decision: readers call :func:`current_limits` each cycle; the
pre-trade check reads the version at every check and caches per version only
(:mod:`app.services.risk_cache`).
"""

from __future__ import annotations

from typing import Any

from app.operations.risk import LimitsChangeRequest, RiskCheckRequest
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.risk import RiskLimits
from core.risk.book import OrderCheck
from core.risk.versions import LimitChange, change_limits, limit_history, limits_in_force
from core.store.db import session_scope

__all__ = [
    "check_order",
    "current_limits",
    "history",
    "set_limits",
]


def _sessions() -> Any:
    return session_scope(get_engine())


def current_limits() -> tuple[int, RiskLimits]:
    """The version number and limits in force (version 0 = built-in defaults)."""
    with _sessions() as session:
        return limits_in_force(session)


def set_limits(request: LimitsChangeRequest, *, actor: Actor = LOCAL) -> LimitChange:
    """Validate and store new limits as the next version (the ``risk`` role).

    ``request.expected_version`` is the optimistic lock: when another change landed
    since, nothing is stored and :class:`core.risk.versions.LimitsConflict` says who
    changed the limits and when. Without it the change applies on top of whatever is in
    force.

    Raises
    ------
    PermissionDenied
        The actor lacks the ``risk`` role.
    LimitsConflict
        Another change landed first (a ``ValueError``, as are bad values).
    """
    require(actor, "risk", "changing risk limits")
    return change_limits(
        _sessions,
        request.values,
        reason=request.reason,
        changed_by=actor.name,
        expected_version=request.expected_version,
    )


def history() -> list[LimitChange]:
    """Every version, newest first, with the fields it changed."""
    with _sessions() as session:
        return limit_history(session)


def check_order(request: RiskCheckRequest) -> OrderCheck:
    """Pre-trade check of one order against a paper session's book (or an empty 100k
    account), at the symbol's latest close unless ``request.price`` is given.

    The limits in force are read at every check (a change applies to the next one); the
    book and prices are re-derived only when they changed (:mod:`app.services.risk_cache`).

    Raises
    ------
    LookupError
        No paper session has the name given.
    """
    from app.services import risk_cache

    return risk_cache.check(get_engine(), request)
