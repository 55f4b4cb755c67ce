"""A real multi-process Dask cluster on 127.0.0.1 for the distributed tests and benchmarks.

:func:`dask_process_cluster` starts ``dask scheduler`` and ``n_workers`` ``dask worker``
processes with the venv's own ``dask`` CLI (distributed 2026.8.0): the scheduler on port
0 (the address is read back from its ``--scheduler-file``, so there is no free-port
race), each worker with ``--nworkers 1 --nthreads 1 --no-dashboard``, from the project
root with ``PYTHONPATH`` set so that ``core`` imports on the workers. It waits for every
worker with ``Client.wait_for_workers(timeout=...)`` and yields a
:class:`DaskProcessCluster`. Every process starts in its own session (process group);
teardown sends SIGTERM to each group, then SIGKILL to what is left (nannies' children
included), so nothing outlives the test even when it fails or times out. Workers also
carry ``--death-timeout``, so a worker whose scheduler vanished exits by itself.

Usage in a test module::

    from tests.fakes.dask_cluster import dask_processes  # noqa: F401  (pytest fixture)

    def test_x(dask_processes: DaskProcessCluster) -> None:
        with dask_processes.client() as client: ...
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from distributed import Client

ROOT = Path(__file__).resolve().parents[2]
DASK = Path(sys.executable).with_name("dask")
"""The ``dask`` CLI of the interpreter running the tests (the venv's)."""


@dataclass
class DaskProcessCluster:
    """A started scheduler and its worker processes (see :func:`dask_process_cluster`)."""

    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]]
    log_dir: Path

    def client(self, *, timeout: float = 30.0) -> Client:
        """A new ``distributed.Client`` connected to the scheduler (close it yourself)."""
        from distributed import Client

        return Client(self.address, timeout=timeout, set_as_default=False)

    def worker_pids(self) -> dict[str, int]:
        """Worker address -> pid of the process that runs the tasks (the nanny's child)."""
        with self.client() as client:
            pids: dict[str, int] = client.run(os.getpid)
        return pids

    def processing(self) -> int:
        """Tasks the scheduler has assigned to workers and not finished (all workers)."""
        with self.client() as client:
            counts = client.processing()
        return sum(len(keys) for keys in counts.values())

    def pids(self) -> list[int]:
        """Every live process of the cluster: scheduler, nannies and their children."""
        import psutil

        out: list[int] = []
        for proc in [self.scheduler, *self.workers]:
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(proc.pid)
                out += [parent.pid, *(c.pid for c in parent.children(recursive=True))]
        return out

    def logs(self) -> str:
        """The tail of every process's log (for assertion messages)."""
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"--- {path.name}\n{text[-3000:]}")
        return "\n".join(parts)


def _spawn(args: list[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    try:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        handle.close()  # the child holds its own descriptor


def _stop(procs: list[subprocess.Popen[bytes]], grace_s: float) -> None:
    """SIGTERM every process group, wait up to ``grace_s``, then SIGKILL the groups and
    any descendant that left its group."""
    import psutil

    family: list[psutil.Process] = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(proc.pid)
            family += [parent, *parent.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    psutil.wait_procs(family, timeout=5)


@contextlib.contextmanager
def dask_process_cluster(
    log_dir: Path,
    *,
    n_workers: int = 2,
    nanny: bool = True,
    timeout_s: float = 60.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[DaskProcessCluster]:
    """Start ``dask scheduler`` + ``n_workers`` ``dask worker`` processes on 127.0.0.1.

    Parameters
    ----------
    log_dir : Path
        Where the scheduler file, the worker directories and each process's log go.
    n_workers : int
        Worker processes (one task thread each).
    nanny : bool
        Run each worker under a nanny (Dask's default), which restarts a killed worker.
    timeout_s : float
        Seconds to wait for the scheduler and then for every worker before giving up.
    env : mapping, optional
        Extra environment variables for every process.
    """
    from distributed import Client

    log_dir.mkdir(parents=True, exist_ok=True)
    scheduler_file = log_dir / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    penv = {**os.environ, **(env or {})}
    penv["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), penv.get("PYTHONPATH")) if p)
    penv.pop("WORKBENCH_DASK_SCHEDULER", None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        scheduler = _spawn(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
                "--idle-timeout",
                "900s",  # a safety net only: teardown stops it
            ],
            log_dir / "scheduler.log",
            penv,
        )
        procs.append(scheduler)
        deadline = time.monotonic() + timeout_s
        address = ""
        while not address:
            if scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited:\n{_tail(log_dir / 'scheduler.log')}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"dask scheduler not up in {timeout_s:g} s")
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                address = str(json.loads(scheduler_file.read_text())["address"])
            if not address:
                time.sleep(0.05)
        workers = []
        for i in range(n_workers):
            worker = _spawn(
                [
                    str(DASK),
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--nanny" if nanny else "--no-nanny",
                    "--name",
                    f"w{i}",
                    "--local-directory",
                    str(log_dir / f"w{i}"),
                    "--death-timeout",
                    "30s",
                ],
                log_dir / f"worker-{i}.log",
                penv,
            )
            procs.append(worker)
            workers.append(worker)
        remaining = max(1.0, deadline - time.monotonic())
        with Client(address, timeout=remaining, set_as_default=False) as client:
            try:
                client.wait_for_workers(n_workers, timeout=remaining)
            except Exception as exc:
                logs = "\n".join(_tail(p) for p in sorted(log_dir.glob("*.log")))
                raise TimeoutError(f"{n_workers} dask workers not up: {exc}\n{logs}") from exc
        yield DaskProcessCluster(address, scheduler, workers, log_dir)
    finally:
        _stop(procs[1:], grace_s=5.0)  # workers first, so they do not wait on the scheduler
        _stop(procs[:1], grace_s=5.0)


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}"
    except FileNotFoundError:
        return f"--- {path.name} (no log)"


def gated_sweep(
    chunk: tuple[int, Any],
    *,
    gate: str,
    marks: str,
    ungated: int = 0,
    max_wait_s: float = 60.0,
    stop: Any = None,
    **shared: Any,
) -> dict[str, Any]:
    """A sweep chunk (:func:`core.bench_jobs.sweep_slice`) that runs on a worker only
    once the file ``gate`` exists, unless its index is below ``ungated``.

    ``chunk`` is ``(index, fast windows)``. Each start leaves a file ``started-INDEX-PID-N``
    in ``marks``, so a test sees which chunks are running (and which ran twice). A chunk
    whose gate never opens raises after ``max_wait_s``: a chunk that long is what a
    cancellation must not wait for. ``stop``, the stop probe of
    :func:`core.cluster.map_chunks` (``stop_arg="stop"``), is called while waiting, as a
    real chunk calls it between its pieces of work.
    """
    from core.bench_jobs import sweep_slice

    index, fast = chunk
    folder = Path(marks)
    stamp = f"started-{index}-{os.getpid()}-{len(list(folder.glob(f'started-{index}-*')))}"
    (folder / stamp).touch()
    deadline = time.monotonic() + max_wait_s
    while index >= ungated and not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"chunk {index}: the gate never opened in {max_wait_s:g} s")
        if stop is not None:
            stop()
        time.sleep(0.01)  # the chunk's simulated work, on the worker
    return sweep_slice(fast, **shared)


def executing(dask_worker: Any) -> int:
    """Tasks a worker's threads are running, cancelled ones included (``client.run``)."""
    return int(dask_worker.state.executing_count)


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcessCluster]:
    """A ``dask scheduler`` and two ``dask worker`` processes for the module's tests."""
    with dask_process_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster


__all__ = [
    "DASK",
    "DaskProcessCluster",
    "dask_process_cluster",
    "dask_processes",
    "executing",
    "gated_sweep",
]
