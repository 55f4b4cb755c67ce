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

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.sweep import TOP_KEPT, SweepOutcome, SweepRequest, UniverseResult
from app.services import _sweep as helpers
from app.services import runs as run_store
from core.backtest.spec import EXECUTION
from core.cluster import default_executor
from core.strategies.catalog import grid_constraints
from core.sweep import grid_size
from core.sweep.chunked import (
    CHUNK_COMBOS,
    SYMBOL,
    pivot_stored,
    rank_stored,
    stored_rows,
    sweep_chunked,
)
from core.sweep.result import rank

SMALL_TABLE_ROWS = 200_000
"""Largest stored table a view may derive a heatmap from (old runs, another metric)."""


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
        progress(
            0.02, f"Sweeping {grid_size(grid) * len(frames):,} raw combos in {n_chunks} chunks"
        )

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

    stored_heat = folder / "heatmap.parquet"
    heat = helpers.read_heat(stored_heat) if stored_heat.is_file() else None
    table = folder / helpers.TABLE
    if not stored_heat.is_file() and table.is_file() and stored_rows(table) <= SMALL_TABLE_ROWS:
        # an old run without a stored heatmap: derive it once from its table and store it
        heat = _derived_heatmap(table, request, request.metric)
        long = helpers.heat_long(heat)
        if long is not None:
            helpers.store_frame(folder, "heatmap", long)
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


def table_file(outcome: SweepOutcome) -> Path | None:
    """The file a sweep's full table is stored in (None for a table held in memory)."""
    return outcome.source if isinstance(outcome.source, Path) else None


def ranked(outcome: SweepOutcome, metric: str, n: int) -> pd.DataFrame:
    """The best ``n`` rows by ``metric``: the stored top rows for the sweep's own metric,
    else the stored table read in batches (its memory does not grow with the table)."""
    kept = outcome.top_table
    if metric == outcome.metric and kept is not None:
        if n <= len(kept) or len(kept) >= outcome.combinations:  # or every row is kept
            return kept.head(n)
    path = table_file(outcome)
    if path is None:
        return rank(outcome.table, metric, n)
    return rank_stored(path, metric, n)


def heatmap_of(outcome: SweepOutcome, metric: str) -> tuple[pd.DataFrame | None, str]:
    """The heatmap of ``metric`` and a note when there is none: the stored one for the
    sweep's metric; for another metric, derived from a table of at most
    :data:`SMALL_TABLE_ROWS` rows (three columns read), else none."""
    if metric == outcome.metric and outcome.heatmap is not None:
        return outcome.heatmap, ""
    path = table_file(outcome)
    if path is None:
        return _derived_heatmap(outcome.table, outcome.request, metric), ""
    if not path.is_file():
        return None, f"the heatmap of {metric} is not stored and the table file is missing"
    rows = stored_rows(path)
    if rows > SMALL_TABLE_ROWS:
        return None, (
            f"a heatmap of {metric} is not stored with this sweep ({rows:,} rows, more than "
            f"{SMALL_TABLE_ROWS:,} to derive it from); the stored one is of {outcome.metric}"
        )
    return _derived_heatmap(path, outcome.request, metric), ""


def line_of(outcome: SweepOutcome, metric: str) -> pd.DataFrame:
    """A one-parameter sweep's param and ``metric`` columns, in param order (two columns
    read from the stored table)."""
    name = outcome.param_names[0]
    path = table_file(outcome)
    frame = (
        outcome.table[[name, metric]]
        if path is None
        else pd.read_parquet(path, columns=[name, metric])
    )
    return frame.sort_values(name, kind="stable")


def _derived_heatmap(
    source: pd.DataFrame | Path, request: SweepRequest, metric: str
) -> pd.DataFrame | None:
    """The max of ``metric`` over the first two swept params (a universe: symbol x first
    param) of a table or a stored table; None for one swept param of one symbol."""
    names = list(request.grid)
    if request.all_symbols:
        row, col = SYMBOL, names[0]
    elif len(names) >= 2:
        row, col = names[0], names[1]
    else:
        return None
    if isinstance(source, Path):
        return pivot_stored(source, row, col, metric)
    return source.pivot_table(index=row, columns=col, values=metric, aggfunc="max")
