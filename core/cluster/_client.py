"""The process-wide Dask client: a LocalCluster by default, an external scheduler on demand."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed import Client

SCHEDULER_ENV = "WORKBENCH_DASK_SCHEDULER"
"""Address of an external scheduler, e.g. ``tcp://host:8786``."""
WORKERS_ENV = "WORKBENCH_DASK_WORKERS"
"""Worker processes of the default LocalCluster (default: ``os.cpu_count()``)."""
EXECUTOR_ENV = "WORKBENCH_EXECUTOR"
"""``auto`` (default), ``serial`` or ``dask``: where fanned-out work runs."""
AUTO_MIN_CHUNKS = 8
"""Chunks from which ``auto`` starts a LocalCluster (starting one costs 1-3 s here)."""

_lock = threading.Lock()
_client: Client | None = None
_cluster: Any = None


def _n_workers() -> int:
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return max(1, os.cpu_count() or 1)
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV}={raw!r} must be a whole number of workers") from None
    if n < 1:
        raise ValueError(f"{WORKERS_ENV}={raw!r} must be at least 1")
    return n


def _worker_env() -> dict[str, str]:
    """PYTHONPATH for spawned workers: the repository root first, so ``core`` imports."""
    from core.config import ROOT

    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def get_client() -> Client:
    """The process-wide Dask client, created on first use.

    ``WORKBENCH_DASK_SCHEDULER`` set: a client of that scheduler. Otherwise a
    ``LocalCluster`` of ``WORKBENCH_DASK_WORKERS`` (default: as many as cores)
    single-threaded worker processes on 127.0.0.1 without a dashboard. A client whose
    cluster has gone away is replaced.
    """
    global _client, _cluster
    with _lock:
        if _client is not None and _client.status in ("running", "connecting"):
            return _client
        _shutdown()
        import distributed

        client_type: Any = distributed.Client  # distributed is not typed
        cluster_type: Any = distributed.LocalCluster

        address = os.environ.get(SCHEDULER_ENV, "").strip()
        if address:
            try:
                _client = client_type(address, timeout=10, set_as_default=False)
            except OSError as exc:
                raise RuntimeError(
                    f"cannot reach the Dask scheduler at {address} ({SCHEDULER_ENV}): {exc}"
                ) from exc
            return _client
        import dask

        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in every worker (and in this
        # process): measured here, it doubles a sweep chunk's CPU time (1.3 M vs 0.14 M page
        # faults). None unsets it; glibc's adaptive default is faster for our arrays.
        dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        _cluster = cluster_type(
            n_workers=_n_workers(),
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            # no dashboard; the scheduler's small HTTP server (health) on a free local port
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            env=_worker_env(),
        )
        _client = client_type(_cluster, set_as_default=False)
        return _client


def _shutdown() -> None:
    global _client, _cluster
    client: Any = _client
    cluster: Any = _cluster
    _client = _cluster = None
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def default_executor(n_chunks: int) -> str:
    """``"dask"`` or ``"serial"`` for work of ``n_chunks`` chunks (the same results either
    way): ``WORKBENCH_EXECUTOR`` when set; else Dask when an external scheduler is
    configured, or this process already has a client and there is more than one chunk, or
    there are at least :data:`AUTO_MIN_CHUNKS` chunks (worth starting a LocalCluster);
    serial otherwise.
    """
    choice = os.environ.get(EXECUTOR_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "serial", "dask"):
        raise ValueError(f"{EXECUTOR_ENV}={choice!r} must be auto, serial or dask")
    if choice != "auto":
        return choice
    if os.environ.get(SCHEDULER_ENV, "").strip() or n_chunks >= AUTO_MIN_CHUNKS:
        return "dask"
    running = _client is not None and _client.status == "running"
    return "dask" if running and n_chunks > 1 else "serial"


def close_client() -> None:
    """Close the process-wide client and the LocalCluster it started (if any)."""
    with _lock:
        _shutdown()


__all__ = [
    "EXECUTOR_ENV",
    "SCHEDULER_ENV",
    "WORKERS_ENV",
    "close_client",
    "default_executor",
    "get_client",
]
