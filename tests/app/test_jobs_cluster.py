"""Jobs on an external Dask cluster (issue 12 §3): a real ``workbench jobs worker`` process
with ``WORKBENCH_DASK_SCHEDULER`` pointed at a real ``dask scheduler`` and two
``dask worker`` processes on 127.0.0.1 (:mod:`tests.fakes.dask_cluster`).

- a sweep job completes with the serial result (the stored table, bit for bit, against
  :func:`core.sweep.chunked.sweep_chunked` run in this process with ``executor="serial"``),
  and its chunks went through the external scheduler;
- a job outlives the process that submitted it ("a restart of the app"): a fresh
  interpreter submits and exits, and this process reopens the result from the database;
- cancelling a running cluster job through :func:`app.services.jobs.cancel_job` ends it
  within 2 s, and the scheduler is left with nothing processing.
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.dask_cluster are test parameters)

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.operations.sweep import SweepRequest
from app.services import jobs
from app.services.auth import LOCAL
from app.services.jobs_supervisor import live_workers
from app.services.sweep import reopen_sweep
from core.config import get_settings
from core.sweep import GridAxis
from tests.fakes.dask_cluster import DaskProcessCluster, dask_processes  # noqa: F401
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(600)  # fresh interpreters and sweeps on a busy machine
# 299 x 299 raw combinations (44,850 with fast < slow): several chunks of the chunked sweep.
GRID = {"fast": GridAxis.parse("2:300:1"), "slow": GridAxis.parse("3:301:1")}
# 439 x 439 raw (96,580 valid): long enough to be cancelled half-way.
LONG = {"fast": GridAxis.parse("2:440:1"), "slow": GridAxis.parse("3:441:1")}


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dask_processes: DaskProcessCluster
) -> Iterator[dict[str, str]]:
    """One SQLite file for this process and the worker; the external scheduler for both."""
    from core.cluster import close_client

    monkeypatch.setenv("WORKBENCH_DB_URL", f"sqlite:///{tmp_path / 'jobs.db'}")
    monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", dask_processes.address)
    monkeypatch.setenv("WORKBENCH_JOBS_AUTOSTART", "0")
    get_settings.cache_clear()
    close_client()
    yield dict(os.environ)
    close_client()
    get_settings.cache_clear()


@pytest.fixture
def worker(env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``workbench jobs worker`` process, live in the database before the test starts."""
    log = (tmp_path / "jobs-worker.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "jobs", "worker", "--name", "cluster-test",
         "--poll", "0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "jobs-worker.log").read_text()[-3000:]
            return any(w.name == "cluster-test" for w in live_workers())

        wait_until(up, "the jobs worker to come up", timeout_s=120, every_s=0.05)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


def _request(grid: dict[str, GridAxis]) -> SweepRequest:
    return SweepRequest(dataset="ohlcv_daily", symbol="SP500", grid=grid)


def _serial_table(request: SweepRequest, folder: Path) -> Any:
    """The same sweep in this process, chunk by chunk in order (the serial reference)."""
    from app.services.data import load_prices
    from core.strategies.catalog import grid_constraints
    from core.sweep.chunked import sweep_chunked

    prices = load_prices(request.dataset, request.symbol)
    grid = {name: axis.values() for name, axis in request.grid.items()}
    result = sweep_chunked(
        request.strategy,
        {request.symbol: prices},
        grid,
        grid_constraints(request.strategy, grid) or None,
        request.spec(),
        request.metric,
        fixed=request.fixed,
        executor="serial",
        table_path=folder / "serial.parquet",
    )
    return result.table()


def _scheduler_transitions(cluster: DaskProcessCluster) -> int:
    with cluster.client() as client:
        count: int = client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.transition_counter
        )
    return count


def _same_bits(stored: Any, reference: Any) -> None:
    assert list(stored.columns) == list(reference.columns)
    assert len(stored) == len(reference)
    for name in reference.columns:
        a, b = np.asarray(stored[name]), np.asarray(reference[name])
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


def test_a_sweep_job_on_the_external_cluster_completes_with_the_serial_result(
    worker: subprocess.Popen[bytes], dask_processes: DaskProcessCluster, tmp_path: Path
) -> None:
    request = _request(GRID)
    before = _scheduler_transitions(dask_processes)
    job_id = jobs.submit("sweep", request, actor=LOCAL)
    done = jobs.wait_job(job_id, timeout_s=300)
    assert (done.status, done.error, done.worker) == ("done", None, "cluster-test")
    assert _scheduler_transitions(dask_processes) > before, "no task reached the scheduler"
    assert done.result is not None
    reopened = reopen_sweep(done.result["run_id"])
    assert reopened.combinations == 44_850
    _same_bits(reopened.table, _serial_table(request, tmp_path))


_SUBMIT_AND_EXIT = """
from app.operations.sweep import SweepRequest
from app.services import jobs
from app.services.auth import LOCAL
from core.sweep import GridAxis
grid = {"fast": GridAxis.parse("2:300:1"), "slow": GridAxis.parse("3:301:1")}
print(jobs.submit("sweep", SweepRequest(dataset="ohlcv_daily", symbol="SP500", grid=grid),
                  actor=LOCAL))
"""


def test_a_job_outlives_the_process_that_submitted_it(
    worker: subprocess.Popen[bytes], env: dict[str, str], tmp_path: Path
) -> None:
    """The "app" is a fresh interpreter that submits and exits at once; a new process
    (this one) finds the job by id, waits for it and reopens its result."""
    app = subprocess.run(
        [sys.executable, "-c", _SUBMIT_AND_EXIT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert app.returncode == 0, app.stderr[-3000:]
    job_id = int(app.stdout.strip().splitlines()[-1])
    done = jobs.wait_job(job_id, timeout_s=300)
    assert (done.status, done.owner, done.worker) == ("done", LOCAL.name, "cluster-test")
    assert done.result is not None
    reopened = reopen_sweep(done.result["run_id"])
    assert jobs.request_of(done) == _request(GRID)
    _same_bits(reopened.table, _serial_table(_request(GRID), tmp_path))


def test_cancelling_a_running_cluster_job_stops_it_within_2_s(
    worker: subprocess.Popen[bytes], dask_processes: DaskProcessCluster
) -> None:
    job_id = jobs.submit("sweep", _request(LONG), actor=LOCAL)

    def under_way() -> Any:
        view = jobs.get_job(job_id)
        assert not view.finished, (view.status, view.error)
        return view if view.progress >= 0.2 else None  # some chunks already reduced

    view = wait_until(under_way, "the job to get under way", timeout_s=300, every_s=0.02)
    assert view.status == "running" and view.progress < 0.9, view
    asked = time.monotonic()
    message = jobs.cancel_job(job_id, actor=LOCAL)
    assert "asked to stop" in message

    def finished() -> Any:
        view = jobs.get_job(job_id)
        return view if view.finished else None

    view = wait_until(finished, "the cancelled job to end", timeout_s=30, every_s=0.02)
    stopped_after = time.monotonic() - asked
    assert view.status == "cancelled", (view.status, view.error)
    assert stopped_after < 2.0, f"stopped {stopped_after:.2f} s after cancel_job"
    # nothing of the job is left processing on the cluster, 2 s after the cancel at most
    if dask_processes.processing():
        left = max(0.0, asked + 2.0 - time.monotonic())
        wait_until(lambda: not dask_processes.processing(), "no task processing on the cluster",
                   timeout_s=left, every_s=0.02)  # fmt: skip
    assert view.result is None
