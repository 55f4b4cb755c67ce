"""Parameter sweeps for the pages, the CLI and jobs: load the data, call
:func:`core.sweep.sweep`, save the ranked table; ``reopen_sweep`` reads it back."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.operations import CancelToken, Progress
from app.operations.sweep import SweepOutcome, SweepRequest
from app.services import runs as run_store
from app.services.data import load_prices
from core.backtest.spec import EXECUTION
from core.serialize import json_safe
from core.strategies.catalog import grid_constraints
from core.sweep import check_bars, grid_size, sweep


def run_sweep(
    request: SweepRequest,
    *,
    save: bool = True,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> SweepOutcome:
    """One vectorized sweep over the grid (the strategy's grid rules, e.g. fast < slow,
    applied to all combinations at once); ``cancel`` is checked between chunks."""
    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    check_bars(request.strategy, request.grid, request.fixed, len(prices))
    grid = {name: axis.values() for name, axis in request.grid.items()}

    def on_chunk(fraction: float) -> None:
        if cancel is not None:
            cancel.check()
        if progress is not None:
            progress(0.05 + 0.85 * fraction, f"Simulated {fraction:.0%} of the combinations")

    if progress is not None:
        progress(0.05, f"Sweeping {grid_size(grid):,} raw combos")
    result = sweep(
        request.strategy,
        prices,
        grid,
        grid_constraints(request.strategy, grid) or None,
        request.spec(),
        request.metric,
        fixed=request.fixed,
        progress=on_chunk,
    )
    if result.combinations == 0:
        raise ValueError("no combination satisfies the constraints (e.g. fast < slow)")
    if progress is not None:
        progress(0.9, f"{result.combinations:,} combinations in {result.seconds:.2f} s")
    best: dict[str, Any] = {
        k: (v.item() if hasattr(v, "item") else v) for k, v in result.best().items()
    }
    for name in result.param_names:
        if np.issubdtype(grid[name].dtype, np.integer):
            best[name] = int(best[name])
    run_id = None
    if save:
        if cancel is not None:
            cancel.check()
        run_id = run_store.save_run(
            kind="sweep",
            title=f"sweep {request.strategy} {request.symbol} ({result.combinations} combos)",
            spec=request.model_dump(mode="json"),
            metrics={
                "combinations": result.combinations,
                "seconds": result.seconds,
                "best": json_safe({k: float(v) for k, v in best.items()}),
            },
            frames={"table": result.table},
        )
    if progress is not None:
        progress(1.0, "done")
    return SweepOutcome(
        run_id,
        request,
        result.table,
        result.param_names,
        result.combinations,
        result.seconds,
        request.metric,
        best,
        result.execution,
    )


def reopen_sweep(run_id: int) -> SweepOutcome:
    """Rebuild a saved sweep from its stored table (no recomputation)."""
    run = run_store.get_run(run_id)
    if run.kind != "sweep":
        raise LookupError(f"run {run_id} is a {run.kind}, not a sweep")
    request = SweepRequest.model_validate(run.spec)
    return SweepOutcome(
        run_id,
        request,
        run_store.load_frame(run, "table"),
        tuple(request.grid),
        int(run.metrics["combinations"]),
        float(run.metrics["seconds"]),
        request.metric,
        dict(run.metrics["best"]),
        EXECUTION,
    )
