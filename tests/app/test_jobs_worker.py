"""Real ``workbench jobs worker`` processes on a real SQLite file: a worker stopped with
SIGTERM requeues its job, a SIGKILLed worker's job is claimed again at once, without
waiting for its lease, and completes (attempt 2), the LocalCluster of a SIGKILLed worker
dies with it, and two processes starting a worker at once start one."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from app.operations.sweep import SweepRequest
from app.services import jobs
from app.services.auth import LOCAL, Actor
from app.services.jobs_supervisor import live_workers, pid_alive
from core.config import get_settings
from core.sweep import GridAxis
from tests.app.concurrency_helpers import run_together
from tests.cli_helpers import start_worker
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(600)  # fresh interpreters and a long sweep on a busy machine
PRELOAD = ("app.services.jobs", "app.operations.sweep")
# ~100,000 combinations: several seconds, reported chunk by chunk.
LONG = {"fast": GridAxis.parse("2:101:1"), "slow": GridAxis.parse("201:1200:1")}
SMALL = {"fast": GridAxis.parse("5:20:5"), "slow": GridAxis.parse("30:60:10")}
ANA = Actor("ana", frozenset({"analyst"}))


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    monkeypatch.setenv("WORKBENCH_DB_URL", url)
    get_settings.cache_clear()
    yield {**os.environ, "WORKBENCH_DB_URL": url}
    get_settings.cache_clear()


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``workbench jobs worker`` processes; any still running is stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = start_worker(*args, env=env, log=tmp_path / f"worker{len(started)}.log")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


def _mid_way(job_id: int) -> bool:
    job = jobs.get_job(job_id)
    assert not job.finished, f"the sweep finished before it could be interrupted: {job}"
    return job.status == "running" and job.progress > 0.06  # at least one chunk done


def _long_sweep_under_way(
    workers: Callable[..., subprocess.Popen], *args: str, what: str = "the sweep to run"
) -> tuple[int, subprocess.Popen]:
    """A long sweep's job id and the worker started with ``args``, once it is mid-way."""
    job_id = jobs.submit("sweep", SweepRequest(grid=LONG), actor=ANA)
    proc = workers(*args)
    wait_until(lambda: _mid_way(job_id), what)
    return job_id, proc


def test_a_sigkilled_workers_job_is_claimed_again_at_once_and_completes(
    env: dict[str, str], workers: Callable[..., subprocess.Popen]
) -> None:
    # A 600 s lease: were the new worker to wait for it, the test would time out.
    job_id, first = _long_sweep_under_way(workers, "--lease", "600")
    first.send_signal(signal.SIGKILL)
    # Not waited for: a zombie, dead to the store as soon as the kill lands.
    wait_until(lambda: not pid_alive(first.pid), "the worker to die", 60)
    stale = jobs.get_job(job_id)
    assert (stale.status, stale.attempt) == ("running", 1)  # its lease runs for 10 minutes
    workers("--lease", "600")
    claimed = wait_until(lambda: jobs.get_job(job_id).attempt == 2, "the second claim", 240)
    assert claimed
    again = jobs.get_job(job_id)
    assert again.status == "running" and again.worker != stale.worker
    done = jobs.wait_job(job_id, timeout_s=400, poll_s=0.2)
    assert (done.status, done.attempt, done.error) == ("done", 2, None)
    assert done.result is not None and done.result["combinations"] == 100 * 1000
    first.wait(timeout=30)


def test_a_sigkilled_workers_dask_processes_die_with_it(
    env: dict[str, str], workers: Callable[..., subprocess.Popen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The LocalCluster a job started (its nanny-spawned worker processes and their
    resource tracker) does not outlive a worker killed with SIGKILL."""
    monkeypatch.setitem(env, "WORKBENCH_EXECUTOR", "dask")
    monkeypatch.setitem(env, "WORKBENCH_DASK_WORKERS", "2")
    job_id, proc = _long_sweep_under_way(
        workers, "--lease", "600", "--no-warm", what="the sweep to run on the cluster"
    )
    children = psutil.Process(proc.pid).children(recursive=True)
    names = [" ".join(child.cmdline()) for child in children]
    assert sum("dask worker" in name for name in names) == 2, names
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    try:
        wait_until(lambda: not _running(children), "the dask processes to exit", 60)
    finally:
        for orphan in _running(children):
            orphan.kill()
    jobs.cancel_job(job_id, actor=ANA)


def _running(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (a zombie has exited)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def test_sigterm_requeues_the_running_job_and_the_worker_exits_cleanly(
    env: dict[str, str], workers: Callable[..., subprocess.Popen]
) -> None:
    job_id, proc = _long_sweep_under_way(workers, "--name", "w-term")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 0
    job = jobs.get_job(job_id)
    assert (job.status, job.attempt, job.worker) == ("queued", 1, None)
    assert job.message == "requeued: worker w-term stopped"
    assert [w.name for w in live_workers()] == []  # it removed its record
    jobs.cancel_job(job_id, actor=ANA)


# -- ensure_worker from two processes at once --------------------------------------------------


def ensure_once(index: int, _state: Any) -> tuple[str, bool]:
    return "ok", jobs.ensure_worker()


def test_two_processes_ensuring_a_worker_start_exactly_one(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    child_env = {
        "WORKBENCH_DB_URL": env["WORKBENCH_DB_URL"],
        "WORKBENCH_VAR_DIR": env["WORKBENCH_VAR_DIR"],
        "WORKBENCH_JOBS_AUTOSTART": "1",
    }
    jobs.list_jobs()  # migrate once, before the race
    results = run_together("tests.app.test_jobs_worker:ensure_once", 2, child_env)
    assert all(kind == "ok" for _, kind, _ in results), results
    assert sorted(started for _, _, started in results) == [False, True]
    (worker,) = live_workers()
    try:
        # The worker itself takes its record over (its first heartbeat).
        wait_until(lambda: live_workers()[0].started_at < _heartbeat(worker.name), "its heartbeat")
        monkeypatch.setenv("WORKBENCH_JOBS_AUTOSTART", "1")
        assert jobs.ensure_worker() is False  # one is live
        job_id = jobs.submit("sweep", SweepRequest(grid=SMALL), actor=LOCAL)
        assert jobs.wait_job(job_id, timeout_s=240).status == "done"  # nobody ran a command
    finally:
        os.kill(worker.pid, signal.SIGTERM)
        wait_until(lambda: not pid_alive(worker.pid), "the worker to exit", 120)
    assert live_workers() == []
    log = get_settings().var_dir / "jobs_worker.log"
    assert f"claimed by {worker.name}" in log.read_text()


def _heartbeat(name: str) -> Any:
    from sqlalchemy import select

    from app.services.db import get_engine
    from core.store.db import session_scope
    from core.store.jobs import JobWorker

    with session_scope(get_engine()) as s:
        return s.scalar(select(JobWorker.heartbeat_at).where(JobWorker.name == name))
