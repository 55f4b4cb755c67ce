"""Versioned, audited risk limits: the limits in force, changes to them, their history.

Every change is stored as the next version with who, when, why, the old and the new
values; version numbers are gapless and unique. A change made against a version that is
no longer in force is refused with :class:`LimitsConflict` (optimistic lock); one made
without a version applies on top of whatever is in force, re-read and re-validated when a
concurrent writer takes the next number first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.risk.limits import RiskLimits
from core.store.risk_limits import RiskLimitRepository, RiskLimitVersion, VersionTaken

Sessions = Callable[[], AbstractContextManager[Session]]
"""A factory of transactions: each ``with sessions() as s:`` commits on success."""

MAX_ATTEMPTS = 32
"""Attempts for a change without ``expected_version`` while concurrent writers win the race."""


@dataclass(frozen=True)
class LimitChange:
    """One audited version of the limits."""

    version: int
    limits: dict[str, Any]
    changes: dict[str, tuple[Any, Any]]
    changed_by: str
    role: str
    reason: str
    created_at: datetime


class LimitsConflict(ValueError):
    """Someone else changed the limits after ``loaded``: reload and apply again."""

    def __init__(self, *, loaded: int | None, current: int, by: str, at: datetime) -> None:
        self.loaded, self.current, self.changed_by, self.changed_at = loaded, current, by, at
        since = f"you loaded version {loaded}" if loaded is not None else "concurrent changes"
        super().__init__(
            f"limits changed by {by} at {at:%Y-%m-%d %H:%M:%S} UTC (now version {current}; "
            f"{since}); reload and apply your change again"
        )


def limits_in_force(session: Session) -> tuple[int, RiskLimits]:
    """The version number and limits in force (version 0 = built-in defaults)."""
    row = RiskLimitRepository(session).latest()
    return (
        (0, RiskLimits()) if row is None else (row.version, RiskLimits.model_validate(row.limits))
    )


def _changes(previous: Mapping[str, Any] | None, limits: Mapping[str, Any]) -> dict[str, Any]:
    before = previous or RiskLimits().model_dump(mode="json")
    return {k: (before.get(k), v) for k, v in limits.items() if before.get(k) != v}


def _as_change(row: RiskLimitVersion) -> LimitChange:
    return LimitChange(
        row.version,
        row.limits,
        _changes(row.previous, row.limits),
        row.changed_by,
        row.role,
        row.reason,
        row.created_at,
    )


def limit_history(session: Session) -> list[LimitChange]:
    """Every version, newest first, with the fields it changed."""
    return [_as_change(row) for row in RiskLimitRepository(session).history()]


def _conflict(session: Session, loaded: int | None) -> LimitsConflict:
    row = RiskLimitRepository(session).latest()
    if row is None:  # only called after another writer stored a version
        raise RuntimeError("no risk-limit version stored")
    return LimitsConflict(loaded=loaded, current=row.version, by=row.changed_by, at=row.created_at)


def _apply_once(
    session: Session,
    values: Mapping[str, Any],
    *,
    reason: str,
    changed_by: str,
    expected: int | None,
) -> LimitChange:
    repo = RiskLimitRepository(session)
    row = repo.latest()
    version = row.version if row else 0
    if expected is not None and expected > version:
        raise ValueError(
            f"expected_version: version {expected} does not exist; the limits in force "
            f"are version {version} (reload them)"
        )
    if row is not None and expected is not None and expected != version:
        raise LimitsConflict(loaded=expected, current=version, by=row.changed_by, at=row.created_at)
    old = RiskLimits.model_validate(row.limits) if row else RiskLimits()
    new = RiskLimits.model_validate({**old.model_dump(), **values})
    changes = {
        k: (getattr(old, k), getattr(new, k))
        for k in RiskLimits.model_fields
        if getattr(old, k) != getattr(new, k)
    }
    if not changes:
        raise ValueError("nothing changed: the new limits equal the ones in force")
    record = repo.add(
        version=version + 1,
        limits=new.model_dump(mode="json"),
        previous=old.model_dump(mode="json"),
        changed_by=changed_by,
        role="risk",
        reason=reason,
    )
    return LimitChange(
        record.version, record.limits, changes, changed_by, "risk", reason, record.created_at
    )


def change_limits(
    sessions: Sessions,
    values: Mapping[str, Any],
    *,
    reason: str,
    changed_by: str,
    expected_version: int | None = None,
) -> LimitChange:
    """Validate ``values`` on top of the limits in force and store them as the next version.

    Parameters
    ----------
    sessions
        Opens one transaction per attempt.
    values
        Fields to change; the others keep the values in force.
    reason
        Why (required; kept in the history).
    changed_by
        Who (the actor's name; the role is always ``risk``).
    expected_version
        The version the change was made against (optimistic lock), or None to apply on
        top of whatever is in force.

    Raises
    ------
    LimitsConflict
        Another change landed after ``expected_version`` (or concurrent writers kept
        winning). A ``ValueError``, as are a missing reason, invalid limits and a change
        that changes nothing.
    """
    if not reason or not reason.strip():
        raise ValueError("reason: say why the limits change (kept in the audit history)")
    for _ in range(MAX_ATTEMPTS):
        try:
            with sessions() as session:
                return _apply_once(
                    session,
                    values,
                    reason=reason.strip(),
                    changed_by=changed_by,
                    expected=expected_version,
                )
        except VersionTaken as taken:
            with sessions() as session:
                conflict = _conflict(session, expected_version)
            if conflict.current < taken.version:  # not a version race: a real fault
                raise taken.__cause__ from None  # type: ignore[misc]
            if expected_version is not None:
                raise conflict from None
    with sessions() as session:
        raise _conflict(session, None)


__all__ = [
    "MAX_ATTEMPTS",
    "LimitChange",
    "LimitsConflict",
    "Sessions",
    "change_limits",
    "limit_history",
    "limits_in_force",
]
