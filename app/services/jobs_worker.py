"""The job worker: claims jobs one at a time and runs them (:mod:`app.services.jobs_run`).

It keeps its record in ``job_workers`` alive (:mod:`app.services.jobs_supervisor`);
:meth:`JobWorker.stop` (SIGTERM) cancels the running job and puts it back in the queue,
unless it finishes first.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from app.operations import CancelToken
from app.services.jobs_run import execute
from app.services.jobs_supervisor import HOST
from core.store.base import utcnow
from core.store.db import session_scope
from core.store.jobs import DEFAULT_LEASE_S, JobRepository, WorkerRepository

log = logging.getLogger("workbench.jobs")
Observe = Callable[[int, float, str, CancelToken], None]
"""``observe(job_id, fraction, message, token)``, called on every progress report."""


def _wait(event: threading.Event, seconds: float) -> bool:
    return event.wait(seconds)


class JobWorker:
    """Runs jobs from the database, one at a time (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str | None = None,
        kinds: Sequence[str] | None = None,
        lease_s: float = DEFAULT_LEASE_S,
        tick_s: float = 0.25,
        grace_s: float = 10.0,
        clock: Callable[[], Any] = utcnow,
        wait: Callable[[threading.Event, float], bool] = _wait,
        observe: Observe | None = None,
    ) -> None:
        self.engine, self.name, self.kinds = engine, name or f"{HOST}:{os.getpid()}", kinds
        self.lease_s, self.tick_s, self.grace_s = lease_s, tick_s, grace_s
        self.clock, self.wait, self.observe = clock, wait, observe
        self.stopping = threading.Event()
        self._beat_at: Any = None

    def stop(self) -> None:
        """Stop after the current job (which is cancelled and requeued if still running)."""
        self.stopping.set()

    def beat(self, job_id: int | None = None, *, force: bool = False) -> None:
        """Renew this worker's record (at most every third of the lease unless ``force``)."""
        now = self.clock()
        if not force and self._beat_at and (now - self._beat_at).total_seconds() < self.lease_s / 3:
            return
        with session_scope(self.engine) as s:
            WorkerRepository(s).beat(
                self.name, host=HOST, pid=os.getpid(), now=now, ttl_s=self.lease_s,
                kinds=self.kinds, job_id=job_id,
            )  # fmt: skip
        self._beat_at = now

    def serve(self, *, once: bool = False, poll_s: float = 0.5) -> int:
        """Run jobs until stopped (``once``: until none is queued); how many ran."""
        ran = 0
        self.beat(force=True)
        try:
            while not self.stopping.is_set():
                if self.run_one():
                    ran += 1
                elif once:
                    break
                else:
                    self.beat()
                    self.wait(self.stopping, poll_s)
        finally:
            with session_scope(self.engine) as s:
                WorkerRepository(s).remove(self.name)
        return ran

    def run_pending(self, *, max_jobs: int | None = None) -> int:
        """Run queued jobs in this process until none is left (or ``max_jobs``)."""
        ran = 0
        while (max_jobs is None or ran < max_jobs) and self.run_one():
            ran += 1
        return ran

    def run_one(self) -> bool:
        """Claim and run one job; False when none was claimable."""
        with session_scope(self.engine) as s:
            job = JobRepository(s).claim_next(self.name, self.lease_s, self.clock(), self.kinds)
            if job is None:
                return False
            job_id, kind, spec, owner = job.id, job.kind, dict(job.spec), job.owner
        log.info("job %s (%s) claimed by %s", job_id, kind, self.name)
        execute(self, job_id, kind, spec, owner)
        return True


__all__ = ["JobWorker", "Observe"]
