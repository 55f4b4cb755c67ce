"""Run records: any long piece of work (backtest, sweep, training, ...) with its spec,
metrics and artifact folder. Repositories take a caller-owned Session; services own
transactions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import Run, utcnow


class RunRepository:
    """Generic run records."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def start(self, *, kind: str, spec: dict[str, Any], title: str = "") -> Run:
        """Record a run as running."""
        run = Run(kind=kind, spec=spec, title=title, metrics={}, status="running")
        self._s.add(run)
        self._s.flush()
        return run

    def finish(
        self,
        run_id: int,
        *,
        metrics: dict[str, Any],
        artifact_path: str | None = None,
        status: str = "done",
        error: str | None = None,
    ) -> Run:
        """Mark a run finished with its metrics."""
        run = self._s.get_one(Run, run_id)
        run.metrics = metrics
        run.status = status
        run.error = error
        run.artifact_path = artifact_path
        run.finished_at = utcnow()
        self._s.flush()
        return run

    def get(self, run_id: int) -> Run | None:
        """One run by id."""
        return self._s.get(Run, run_id)

    def list(self, *, kind: str | None = None, limit: int = 100) -> list[Run]:
        """Newest first."""
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        if kind:
            query = query.where(Run.kind == kind)
        return list(self._s.scalars(query))
