"""Parameter sweeps for the pages, the CLI and jobs: load the data, sweep the grid in
chunks (:func:`core.sweep.chunked.sweep_chunked`, on Dask when there is more than one
chunk), save the ranked table; ``reopen_sweep`` reads it back.

Chunk results are cached by (data hash, request, code version), so a sweep whose job
was killed mid-way resumes without recomputing the chunks already done; the cache of a
sweep is dropped once it finishes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from app.operations import CancelToken, Progress
from app.operations.sweep import TOP_KEPT, SweepOutcome, SweepRequest, UniverseResult
from app.services import _sweep as helpers
from app.services import runs as run_store
from app.services import sweep_heat
from core.backtest.spec import EXECUTION
from core.cluster import default_executor
from core.strategies.catalog import grid_constraints
from core.sweep import grid_size
from core.sweep.chunked import CHUNK_COMBOS, sweep_chunked


def run_sweep(
    request: SweepRequest,
    *,
    save: bool = True,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SweepOutcome:
    """One sweep over the grid (the strategy's grid rules, e.g. fast < slow, applied to
    every combination), on one symbol or every symbol of the dataset; ``cancel`` is
    checked between chunks and while they run."""
    frames, skipped = helpers.frames_of(request)
    grid = {name: axis.values() for name, axis in request.grid.items()}
    n_chunks = -(-grid_size(grid) // CHUNK_COMBOS) * len(frames)
    cache = helpers.chunk_cache(request, frames)
    if progress is not None:
        chunks = f"{n_chunks:,} chunk{'' if n_chunks == 1 else 's'}"
        progress(0.02, f"Sweeping {grid_size(grid) * len(frames):,} raw combos in {chunks}")

    def on_chunk(fraction: float, message: str) -> None:
        if progress is not None:
            progress(0.02 + 0.9 * fraction, message)

    staging = Path(tempfile.mkdtemp(prefix=".sweep-", dir=helpers.scratch()))
    try:
        result = sweep_chunked(
            request.strategy,
            frames,
            grid,
            grid_constraints(request.strategy, grid),
            request.spec(),
            request.metric,
            fixed=request.fixed,
            universe=request.all_symbols,
            executor=default_executor(n_chunks),
            cache=cache,
            progress=on_chunk,
            check=cancel.check if cancel is not None else None,
            inner_progress=on_chunk,
            top_n=TOP_KEPT,
            table_path=staging / helpers.TABLE,
        )
        if result.combinations == 0:
            raise ValueError("no combination satisfies the constraints (e.g. fast < slow)")
        best = helpers.plain(result.top.iloc[0].to_dict(), grid)
        universe = None
        if request.all_symbols:
            dsr = helpers.deflated_sharpe(
                request, frames, best, result.combinations, result.sharpe_variance
            )
            universe = UniverseResult(result.symbols, result.best_by_symbol, dsr, skipped)
        source: Any = result.table_path
        run_id = None
        if save:
            if cancel is not None:
                cancel.check()
            run_id = helpers.save(request, result, best, universe, staging)
            source = run_store.run_folder(run_id) / helpers.TABLE
        else:
            source = result.table()
        cache.clear()  # finished: nothing left to resume
        if progress is not None:
            progress(1.0, f"{result.combinations:,} combinations in {result.seconds:.2f} s")
        return SweepOutcome(
            run_id,
            request,
            source,
            result.param_names,
            result.combinations,
            result.seconds,
            request.metric,
            best,
            EXECUTION,
            heatmap=result.heatmap,
            top_table=result.top,
            chunks=result.chunks,
            universe=universe,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def reopen_sweep(run_id: int) -> SweepOutcome:
    """Rebuild a saved sweep from its stored frames (no recomputation; the full table
    is read only on use of ``outcome.table``, and may be missing). An old run without a
    stored heatmap gets one derived from its table, stored beside it."""
    run = run_store.get_run(run_id)
    if run.kind != "sweep":
        raise LookupError(f"run {run_id} is a {run.kind}, not a sweep")
    request = SweepRequest.model_validate(run.spec)
    folder = Path(run.artifact_path or "")

    def frame(name: str) -> Any:
        return run_store.load_frame(run, name) if (folder / f"{name}.parquet").is_file() else None

    heat = sweep_heat.run_heatmap(folder, request)
    table = folder / helpers.TABLE
    universe = None
    if request.all_symbols:
        universe = UniverseResult(
            tuple(run.metrics.get("symbols", [])),
            frame("best_by_symbol"),
            dict(run.metrics.get("dsr", {})),
            dict(run.metrics.get("skipped", {})),
        )
    return SweepOutcome(
        run_id,
        request,
        table,
        tuple(request.grid),
        int(run.metrics["combinations"]),
        float(run.metrics["seconds"]),
        request.metric,
        dict(run.metrics["best"]),
        EXECUTION,
        heatmap=heat,
        top_table=frame("top"),
        chunks=int(run.metrics.get("chunks", 1)),
        universe=universe,
    )
