"""A session-wide two-worker ``LocalCluster`` behind :func:`core.cluster.get_client`.

The scheduler's ``allowed-failures`` is 1 for the session, so a chunk whose worker dies
twice fails fast with :class:`core.cluster.WorkerDiedError` (tests of that path), while a
chunk whose worker dies once is rescheduled and completes.

Usage in a test module::

    from tests.fakes.dask_local import dask_client  # noqa: F401  (pytest fixture)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from distributed import Client

ALLOWED_FAILURES = 1
"""Worker deaths a chunk survives in the test session (Dask's default is 3)."""


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Client]:
    """The process-wide client of a 2-worker LocalCluster (closed at the session's end)."""
    import dask

    from core.cluster import close_client, get_client
    from core.config import environ_set

    close_client()
    env = {"WORKBENCH_DASK_WORKERS": "2", "WORKBENCH_DASK_SCHEDULER": None}
    config = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}
    with environ_set(env), dask.config.set(config):
        client = get_client()
        client.wait_for_workers(2, timeout=60)
        try:
            yield client
        finally:
            close_client()


def ensure_workers(client: Client, n: int = 2) -> None:
    """Wait for ``n`` workers after tests that kill some (the nannies restart them; on a
    loaded machine a restart can lag, then the cluster's workers are restarted)."""
    try:
        client.wait_for_workers(n, timeout=60)
    except Exception:  # distributed raises its own timeout types
        client.restart(timeout=120, wait_for_workers=True)
        client.wait_for_workers(n, timeout=120)


__all__ = ["ALLOWED_FAILURES", "dask_client", "ensure_workers"]
