"""A local adapter for :func:`core.ml.tuning.tune` on Dask: the CV folds installed on every
worker (present and future) by a worker plugin, so trial chunks carry no dependency on
scattered data.

Chunks that depend on scattered data are assigned to workers when submitted and
rebalanced by work stealing, which on uneven trials leaves a worker idle for seconds per
batch; chunks without dependencies wait in the scheduler's queue and go to whichever
worker is free. Imported only with ``executor="dask"`` (it imports ``distributed``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin


class InstallFolds(WorkerPlugin):
    """Puts a search's folds in the worker's memo with ``install`` (the caller passes
    :func:`core.ml.tuning.install_folds`; pickled by reference, so no import cycle)."""

    def __init__(
        self, folds_id: str, folds: Sequence[Any], install: Callable[[str, Sequence[Any]], None]
    ) -> None:
        self.folds_id = folds_id
        self.folds = folds
        self.install = install

    def setup(self, worker: Any) -> None:
        self.install(self.folds_id, self.folds)


@contextmanager
def folds_on_workers(
    folds_id: str, folds: Sequence[Any], install: Callable[[str, Sequence[Any]], None]
) -> Iterator[None]:
    """The folds on every worker of :func:`core.cluster.get_client` while the block runs."""
    from core.cluster import get_client

    client: Any = get_client()
    name = f"workbench-folds-{folds_id[:16]}"
    client.register_plugin(InstallFolds(folds_id, folds, install), name=name)
    try:
        yield
    finally:
        client.unregister_worker_plugin(name)


__all__ = ["InstallFolds", "folds_on_workers"]
