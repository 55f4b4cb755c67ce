"""The worker thread's ticks while a claimed job runs (:mod:`app.services.jobs_run`).

Every ``tick_s`` (or at once on the operation's first progress report and at its end) it
writes the progress (:class:`Throttle`), renews the lease and the worker's record, and turns
the job's ``cancel_requested`` or the worker's stop into ``token.cancel()``; an operation
that ignores its token for ``grace_s`` is abandoned.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.operations import CancelToken
from app.services.jobs_support import JobWorker, Throttle
from core.store.db import session_scope
from core.store.jobs import JobError, JobRepository

log = logging.getLogger("workbench.jobs")


def supervise(
    worker: JobWorker,
    job_id: int,
    token: CancelToken,
    events: tuple[threading.Event, threading.Event],
    lock: threading.Lock,
    state: dict[str, Any],
) -> bool:
    """Tick until the operation ends (or the grace after a cancel or a stop runs out);
    True if the lease was lost (another worker owns the job now). The operation's first
    progress report is written at once, not at the next tick."""
    done, wake = events
    throttle, stop_at = Throttle(renew_s=worker.lease_s / 3), None
    while True:
        worker.wait(wake, worker.tick_s)
        wake.clear()
        if done.is_set():
            return False
        now = worker.clock()
        with lock:
            fraction, message = state["fraction"], state["message"]
            first = state.pop("first", False)
        try:
            with session_scope(worker.engine) as s:
                repo = JobRepository(s)
                if first or throttle.due(fraction, message, now):
                    asked = repo.heartbeat(
                        job_id, worker.name, fraction, message, now, lease_s=worker.lease_s
                    )
                    throttle.wrote(fraction, message, now)
                else:
                    job = repo.get(job_id)
                    asked = bool(job and job.cancel_requested)
            worker.beat(job_id)
        except JobError as exc:
            log.warning("job %s: %s; stopping it here", job_id, exc)
            token.cancel("lease lost")
            return True
        except SQLAlchemyError:
            log.exception("job %s: heartbeat failed; trying again", job_id)
            continue
        if asked and not token.cancelled:
            token.cancel("cancelled on request")
        if worker.stopping.is_set():
            token.cancel(token.reason or "worker stopping")
        if token.cancelled:
            stop_at = stop_at or now
            if (now - stop_at).total_seconds() >= worker.grace_s:
                log.warning(
                    "job %s: the operation ignored its cancellation for %g s; abandoned "
                    "(its thread may still run until it returns)",
                    job_id,
                    worker.grace_s,
                )
                return False  # abandoned: jobs_run's _conclude marks it cancelled or requeues it


__all__ = ["supervise"]
