"""Pieces of the job worker that need no database: the progress throttle, the plain
failure sentence and the call of an operation (with its owner's actor)."""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine

from app.operations import CancelToken, Operation, Progress
from app.services.jobs_roles import owner_actor

MAX_ERROR = 600


@dataclass
class Throttle:
    """When the worker writes a job's progress: at most every ``min_interval_s``, when the
    fraction moved by more than ``min_change`` or the message changed, and at least every
    ``renew_s`` (which renews the lease).

    >>> from datetime import datetime, timedelta
    >>> t0 = datetime(2026, 1, 1)
    >>> t = Throttle()
    >>> t.due(0.0, "", t0)
    True
    >>> t.wrote(0.0, "", t0); t.due(0.5, "half", t0 + timedelta(seconds=0.1))
    False
    >>> t.due(0.5, "half", t0 + timedelta(seconds=0.25))
    True
    """

    min_interval_s: float = 0.25
    min_change: float = 0.01
    renew_s: float = 10.0
    fraction: float = field(default=-1.0, init=False)
    message: str | None = field(default=None, init=False)
    at: datetime | None = field(default=None, init=False)

    def due(self, fraction: float, message: str, now: datetime) -> bool:
        """Whether to write ``(fraction, message)`` at ``now``."""
        if self.at is None:
            return True
        elapsed = (now - self.at).total_seconds()
        if elapsed >= self.renew_s:
            return True
        if elapsed < self.min_interval_s:
            return False
        return abs(fraction - self.fraction) > self.min_change or message != self.message

    def wrote(self, fraction: float, message: str, now: datetime) -> None:
        """Record a write."""
        self.fraction, self.message, self.at = fraction, message, now


_USER_ERRORS = (
    ("core.data.loaders", "DataSourceError"),
    ("core.registry.artifacts", "ArtifactError"),
)
"""Errors that describe bad input in plain words (looked up only if their module is loaded)."""


def _user_error(exc: BaseException) -> bool:
    for module, name in _USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return True
    return False


def plain_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says in plain words what was wrong (bad input, a refusal): the
    worker logs it without a traceback."""
    return isinstance(exc, ValueError | LookupError | PermissionError) or _user_error(exc)


def failure_text(kind: str, exc: BaseException) -> str:
    """One plain sentence for a failed job (the traceback goes to the worker's log)."""
    if isinstance(exc, ValueError):
        from app.operations.errors import error_text

        why = error_text(exc)
    elif plain_failure(exc) or isinstance(exc, TypeError):
        why = str(exc.args[0]) if exc.args else type(exc).__name__
    else:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        why = f"unexpected {type(exc).__name__}" + (f" ({first})" if first else "")
        why += "; the worker log has the details"
    text = " ".join(f"The {kind} job failed: {why}".split())
    text = text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
    return text if text.endswith((".", "…")) else text + "."


class JobWorker(Protocol):
    """What running a job needs of its worker (:class:`app.services.jobs_worker.JobWorker`)."""

    engine: Engine
    name: str
    lease_s: float
    tick_s: float
    grace_s: float
    stopping: threading.Event
    clock: Callable[[], Any]
    wait: Callable[[threading.Event, float], bool]
    observe: Callable[[int, float, str, CancelToken], None] | None

    def beat(self, job_id: int | None = None, *, force: bool = False) -> None: ...


def run_operation(
    op: Operation, request: BaseModel, *, owner: str, progress: Progress, cancel: CancelToken
) -> Any:
    """Run ``op`` with the context its service takes (progress, cancel, the owner)."""
    accepted = inspect.signature(op.function()).parameters
    context: dict[str, Any] = {"progress": progress, "cancel": cancel}
    context = {k: v for k, v in context.items() if k in accepted}
    if op.actor:
        context["actor"] = owner_actor(owner)
    return op.run(request, **context)


__all__ = ["JobWorker", "Throttle", "failure_text", "plain_failure", "run_operation"]
