"""The job worker's warm-up: the long operations' services imported and the engine warmed
while the worker is idle (:class:`app.services.jobs_worker.JobWorker` runs it in a thread)."""

from __future__ import annotations

import importlib
import logging
import time

from app import warmup

log = logging.getLogger("workbench.jobs")


def warm_up(gate: warmup.ActivityGate) -> float:
    """Import the long operations' services, then warm the engine as the app server does
    (:func:`app.warmup.start`: its imports, then numba's kernels); seconds taken.

    Each step starts only while no job runs (``gate``), so a job claimed meanwhile waits
    for the rest of one step at most. A fresh worker otherwise spends 3-10 s of its
    first job on imports and compilation before the job's first progress report.
    """
    from app.operations import all_operations

    started = time.perf_counter()
    for op in all_operations():
        if op.long_running:
            gate.wait_quiet(0.0)
            importlib.import_module(op.service.split(":")[0])
    status = warmup.WarmupStatus()
    thread = warmup.start(gate, quiet_s=0.0, status=status)
    if thread is not None:
        thread.join()
    if status.error:
        log.warning("engine warm-up failed: %s", status.error)
    return time.perf_counter() - started


__all__ = ["warm_up"]
