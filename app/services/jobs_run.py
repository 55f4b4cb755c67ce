"""Running one claimed job: its operation in a thread, its lease and progress meanwhile.

While the operation runs (in a daemon thread, with a :class:`CancelToken`), the worker's
thread ticks every ``tick_s``: it writes the progress (:class:`Throttle`), renews the
lease, and turns the job's ``cancel_requested`` into ``token.cancel()``. The job ends
``done`` (the payload stored), ``cancelled``, or ``failed`` with one plain sentence (the
traceback goes to the log); after a stop it goes back to the queue. An operation that
ignores its token for ``grace_s`` after a cancel or a stop is abandoned (its daemon
thread cannot be killed): the job is recorded cancelled, or requeued after a stop. The
ticks are :func:`app.services.jobs_heartbeat.supervise`.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from app.operations import Cancelled, CancelToken, get
from app.services.jobs_heartbeat import supervise
from app.services.jobs_support import JobWorker, failure_text, plain_failure, run_operation
from core.serialize import json_safe
from core.store.db import session_scope
from core.store.jobs import JobError, JobRepository

log = logging.getLogger("workbench.jobs")


def execute(worker: JobWorker, job_id: int, kind: str, spec: dict[str, Any], owner: str) -> None:
    token, done, lock = CancelToken(), threading.Event(), threading.Lock()
    wake = threading.Event()  # the first progress report and the end do not wait a tick
    state: dict[str, Any] = {"fraction": 0.0, "message": "started", "reported": False}

    def progress(fraction: float, message: str) -> None:
        first = False
        if math.isfinite(fraction):
            with lock:
                state.update(fraction=min(max(float(fraction), 0.0), 1.0), message=str(message))
                first, state["reported"] = not state["reported"], True
                if first:
                    state["first"] = True
            if first:
                wake.set()
        if worker.observe is not None:
            worker.observe(job_id, fraction, message, token)
        token.check()

    def target() -> None:
        try:
            op = get(kind)
            request = op.request.model_validate(spec)
            result = run_operation(op, request, owner=owner, progress=progress, cancel=token)
            state["payload"] = json_safe(op.payload(result))
        except Cancelled:
            state["cancelled"] = True
        except BaseException as exc:
            state["error"] = failure_text(kind, exc)
            if plain_failure(exc):
                log.warning("job %s (%s) failed: %s", job_id, kind, state["error"])
            else:
                log.exception("job %s (%s) failed", job_id, kind)
        finally:
            done.set()
            wake.set()

    threading.Thread(target=target, name=f"job-{job_id}", daemon=True).start()
    lost = supervise(worker, job_id, token, (done, wake), lock, state)
    if not lost:
        _conclude(worker, job_id, kind, done.is_set(), state)


def _conclude(
    worker: JobWorker, job_id: int, kind: str, finished: bool, state: dict[str, Any]
) -> None:
    now = worker.clock()
    try:
        with session_scope(worker.engine) as s:
            repo = JobRepository(s)
            job = repo.get(job_id)
            asked = bool(job and job.cancel_requested)
            if finished:  # the last progress reported
                fraction, message = state["fraction"], state["message"]
                repo.heartbeat(job_id, worker.name, fraction, message, now, lease_s=worker.lease_s)
            if finished and "payload" in state:
                repo.finish(job_id, worker.name, state["payload"], now)
            elif finished and "error" in state:
                repo.fail(job_id, worker.name, state["error"], now)
            elif asked:
                repo.mark_cancelled(job_id, worker.name, now)
            elif worker.stopping.is_set():
                repo.release(job_id, worker.name, now, f"requeued: worker {worker.name} stopped")
            else:
                why = f"The {kind} job stopped itself without a cancel request."
                repo.fail(job_id, worker.name, why, now)
    except JobError as exc:
        log.warning("job %s: could not record its end: %s", job_id, exc)
        return
    log.info("job %s (%s) ended on %s", job_id, kind, worker.name)


__all__ = ["execute"]
