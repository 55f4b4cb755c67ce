"""Walk-forward folds as chunks of :func:`core.cluster.map_chunks`.

Each fold is one chunk: a top-level function (importable on a Dask worker) that gets the
fold's window and, as ``shared`` keyword arguments scattered once, the prices and the
fold-independent inputs. It returns a plain dict (fold row, test-window returns,
positions), which the walk-forward reduces in fold order, so the result does not depend
on the executor, the number of workers or the order in which folds complete.

Every fold runs with BLAS/OpenMP pools limited to one thread (as on a Dask worker, whose
nanny sets ``OMP_NUM_THREADS=1``), so the serial path computes the same floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from core.cluster import ChunkCache, code_version, map_chunks
from core.walkforward.folds import CheckCancel, FoldWindow, Progress

CODE_MODULES = (
    "core.walkforward",
    "core.sweep",
    "core.backtest",
    "core.strategies",
    "core.ml",
    "core.features",
)
"""Packages whose source versions the fold cache (a change invalidates cached folds)."""


def single_threaded(fn: Callable[[], Any]) -> Any:
    """``fn()`` with native thread pools (BLAS, OpenMP) limited to one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fn()


def fold_cache(
    prices: pd.DataFrame, spec: Mapping[str, Any], *, root: Path | None = None
) -> ChunkCache:
    """The chunk cache of a walk-forward: keyed by (data hash, ``spec``, code version).

    A resumed job with the same request on the same data finds the folds already done.
    """
    from core.ml.training import data_hash

    key = ChunkCache.make_key(data_hash(prices), dict(spec), code_version(*CODE_MODULES))
    return ChunkCache(root or ChunkCache.default_root(), key)


def run_folds(
    fn: Callable[..., dict[str, Any]],
    windows: Sequence[FoldWindow],
    shared: Mapping[str, Any],
    *,
    progress: Progress | None,
    cancel: CheckCancel | None,
    executor: str,
    cache: ChunkCache | None,
) -> list[dict[str, Any]]:
    """Every fold's result dict, in fold order.

    ``progress(k / (n + 1), "fold k of n done")`` after each fold (k counts folds done,
    in completion order); ``cancel`` is called before each fold (serial) or between
    completions (Dask) and stops the work by raising.
    """
    results: dict[int, dict[str, Any]] = {}
    n = len(windows)

    def reduce(index: int, result: dict[str, Any]) -> None:
        results[index] = result
        if progress is not None:
            progress(len(results) / (n + 1), f"fold {len(results)} of {n} done")

    map_chunks(
        fn,
        list(windows),
        shared=shared,
        cache=cache,
        reduce=reduce,
        check=cancel,
        executor=executor,
    )
    return [results[i] for i in range(n)]


__all__ = ["CODE_MODULES", "fold_cache", "run_folds", "single_threaded"]
