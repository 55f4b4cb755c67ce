"""The job worker: claims jobs one at a time and runs them (:mod:`app.services.jobs_run`).

It keeps its record in ``job_workers`` alive (:mod:`app.services.jobs_supervisor`);
:meth:`JobWorker.stop` (SIGTERM) cancels the running job and puts it back in the queue,
unless it finishes first. Before its first claim, :meth:`JobWorker.serve` ends the leases
a dead predecessor of the same name left (:meth:`JobRepository.reap_dead`); it warms up
(``warm``, e.g. :func:`app.services.jobs_warmup.warm_up`) while idle, so its first job
reports progress as soon as the later ones, and a job that arrives meanwhile does not wait
for the whole warm-up.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from app import warmup
from app.operations import CancelToken
from app.services.jobs_run import execute
from app.services.jobs_supervisor import HOST
from core.store.base import utcnow
from core.store.db import session_scope
from core.store.jobs import DEFAULT_LEASE_S, JobRepository, WorkerRepository

ActivityGate = warmup.ActivityGate

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
        warm: Callable[[ActivityGate], float] | None = None,
    ) -> None:
        self.engine, self.name, self.kinds = engine, name or f"{HOST}:{os.getpid()}", kinds
        self.lease_s, self.tick_s, self.grace_s = lease_s, tick_s, grace_s
        self.clock, self.wait, self.observe, self.warm = clock, wait, observe, warm
        self.stopping = threading.Event()
        self.gate = ActivityGate()
        """Entered while a job runs: the warm-up waits for it between steps."""
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
        """Run jobs until stopped (``once``: until none is queued); how many ran.

        First, jobs still held under this worker's name (its predecessor was killed)
        go back to the queue, and ``warm`` starts in a thread: it warms while the worker
        is idle and waits, between its steps, while a job runs (:attr:`gate`).
        """
        ran = 0
        with session_scope(self.engine) as s:
            # Before our first beat replaces the dead predecessor's pid in the record.
            JobRepository(s).reap_dead(self.clock())
        self.beat(force=True)
        self._start_warm()
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

    def _start_warm(self) -> None:
        warm = self.warm
        if warm is None:
            return

        def target() -> None:
            try:
                log.info("worker %s warm in %.1f s", self.name, warm(self.gate))
            except Exception:
                log.exception("worker %s: warm-up failed; running jobs cold", self.name)

        threading.Thread(target=target, name="worker-warmup", daemon=True).start()

    def run_pending(self, *, max_jobs: int | None = None) -> int:
        """Run queued jobs in this process until none is left (or ``max_jobs``)."""
        ran = 0
        while (max_jobs is None or ran < max_jobs) and self.run_one():
            ran += 1
        return ran

    def run_one(self) -> bool:
        """Claim and run one job; False when none was claimable."""
        self.gate.enter()  # before the claim: once the job shows running, warming waits
        try:
            with session_scope(self.engine) as s:
                repo = JobRepository(s)
                job = repo.claim_next(self.name, self.lease_s, self.clock(), self.kinds)
                if job is None:
                    return False
                job_id, kind, spec, owner = job.id, job.kind, dict(job.spec), job.owner
            log.info("job %s (%s) claimed by %s", job_id, kind, self.name)
            execute(self, job_id, kind, spec, owner)
            return True
        finally:
            self.gate.leave()


__all__ = ["ActivityGate", "JobWorker", "Observe"]
