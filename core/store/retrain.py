"""The retraining decisions table, over a caller-owned Session.

Only queries live here; the policy that makes the decisions is :mod:`core.retrain`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import RetrainDecision


class RetrainDecisionRepository:
    """Recorded decisions of the retraining policy (live and replayed)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        model_name: str,
        as_of: date,
        trigger: str,
        decision: str,
        reason: str,
        numbers: Mapping[str, Any],
        replay: bool,
        champion_version_id: int | None = None,
        challenger_version_id: int | None = None,
    ) -> RetrainDecision:
        """Record one decision."""
        record = RetrainDecision(
            model_name=model_name,
            as_of=as_of,
            trigger=trigger,
            decision=decision,
            champion_version_id=champion_version_id,
            challenger_version_id=challenger_version_id,
            reason=reason,
            numbers=dict(numbers),
            replay=replay,
        )
        self._s.add(record)
        return record

    def history(self, limit: int = 500) -> list[RetrainDecision]:
        """The ``limit`` newest decisions, newest first."""
        query = select(RetrainDecision).order_by(RetrainDecision.id.desc()).limit(limit)
        return list(self._s.scalars(query))


__all__ = ["RetrainDecisionRepository"]
