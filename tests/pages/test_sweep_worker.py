"""The Sweep page with a real ``workbench jobs worker`` process on the test database:
a submitted sweep finishes in the worker and reopens on the page; a long one is cancelled
from the page while the worker runs it. Deadlines are generous; nothing sleeps a fixed
time (the job is polled in the database)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.services import jobs
from app.services.jobs import JobView
from app.services.sweep import run_sweep
from tests.cli_helpers import start_worker
from tests.pages.helpers import metrics, open_app, submit_sweep


@pytest.fixture
def worker(isolated_workbench: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One jobs worker on this test's database (serial executor: no Dask cluster here)."""
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    env["WORKBENCH_EXECUTOR"] = "serial"
    process = start_worker("--name", "pages", env=env, log=tmp_path / "worker.log")
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def _submit(at: AppTest, grid: dict[str, tuple[int, int, int]]) -> int:
    submit_sweep(at, grid)
    return jobs.list_jobs(kind="sweep")[0].id


def _poll(job_id: int, done: object, *, timeout_s: float = 240.0) -> JobView:
    """The job once ``done(job)`` holds, polled in the database (TimeoutError naming it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = jobs.get_job(job_id)
        if done(job):  # type: ignore[operator]
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job.status} ({job.progress:.0%})")
        time.sleep(0.1)  # polling interval, not a wait for an outcome


def test_a_worker_process_runs_the_pages_sweep_and_the_page_reopens_it(
    worker: subprocess.Popen[bytes],
) -> None:
    at = open_app("sweep")
    job_id = _submit(at, {"fast": (10, 30, 10), "slow": (20, 60, 20)})
    job = jobs.wait_job(job_id, timeout_s=240)
    assert (job.status, job.worker, job.attempt) == ("done", "pages", 1), job
    at.run()
    request = jobs.request_of(job)
    direct = run_sweep(request, save=False)  # type: ignore[arg-type]
    shown = metrics(at)
    assert shown["Combinations"] == f"{direct.combinations:,}" == "7"
    assert shown["Best sharpe"] == f"{direct.table['sharpe'].max():.2f}"


def test_a_running_sweep_is_cancelled_from_the_page(worker: subprocess.Popen[bytes]) -> None:
    at = open_app("sweep")
    job_id = _submit(at, {"fast": (1, 400, 1), "slow": (2, 2000, 2)})  # ~360,000 combinations
    running = _poll(job_id, lambda j: j.status == "running" or j.finished)
    assert running.status == "running", running
    at.run()
    assert any(f"Job #{job_id} (sweep) **running**" in m.value for m in at.markdown)
    at.button(key="jobs.sweep.cancel").click().run()
    assert not at.exception, at.exception
    ended = _poll(job_id, lambda j: j.finished, timeout_s=120)
    assert ended.status == "cancelled", ended
    at.run()
    assert any(f"Job #{job_id} (sweep) **cancelled**" in m.value for m in at.markdown)
    assert metrics(at) == {}  # no result: a cancelled sweep saves nothing
    assert worker.poll() is None  # the worker goes on
