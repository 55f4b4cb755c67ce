"""What the pages and the CLI see of a job: :class:`JobView`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from core.store.jobs import Job


@dataclass(frozen=True)
class JobView:
    """One job as the pages and the CLI see it (see :class:`core.store.jobs.Job`)."""

    id: int
    kind: str
    owner: str
    status: str
    progress: float
    message: str
    attempt: int
    worker: str | None
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime
    result: dict[str, Any] | None
    error: str | None
    retry_of: int | None
    spec: dict[str, Any]

    @property
    def finished(self) -> bool:
        """Done, failed or cancelled."""
        return self.status in ("done", "failed", "cancelled")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO 8601 text)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


def view(job: Job) -> JobView:
    """The view of a job row (times in UTC: SQLite returns them naive)."""
    values = {name: getattr(job, name) for name in JobView.__dataclass_fields__}
    for key, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            values[key] = value.replace(tzinfo=UTC)
    return JobView(**values)


__all__ = ["JobView", "view"]
