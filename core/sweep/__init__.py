"""Parameter sweeps: every combination of a grid backtested at once by a numpy kernel.

- :mod:`core.sweep.grid`: axes (:class:`GridAxis`) and the rules a grid passes before any
  work (declared parameter ranges, combination caps, windows no longer than the data);
- :mod:`core.sweep.run`: :func:`sweep` and :func:`sweep_ma_crossover`, and
  :func:`equity_curves` for many position columns at once;
- :mod:`core.sweep.result`: :class:`SweepResult` and the ranking metrics;
- :mod:`core.sweep.chunked`: the same sweep cut into fixed grid slices x symbols for
  :func:`core.cluster.map_chunks` (serial or Dask), reduced as chunks arrive (bounded
  top-N, heatmap, best per symbol) with the full table streamed to Parquet;
- :mod:`core.sweep._kernel`: the pure-numpy replica of vectorbt's target-percent fills;
- :mod:`core.sweep._engine`: the blocked engine (time blocks x column chunks, state
  carried between blocks), with range queries on the closes from :mod:`core.sweep._path`;
- :mod:`core.sweep.bench`: the numpy lower bound and the memory benchmarks.

Importing this package imports neither vectorbt nor numba.

Names are imported from their submodule on first access (:mod:`core._lazy`): the grid
rules and the metric names cost neither pandas nor numpy.
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.sweep.grid import (
        MAX_COMBINATIONS,
        MAX_GRID_COMBINATIONS,
        GridAxis,
        check_bars,
        check_grid,
        grid_size,
    )
    from core.sweep.result import LOWER_IS_BETTER, METRICS, SweepResult, rank
    from core.sweep.run import Constraint, Progress, equity_curves, sweep, sweep_ma_crossover

__getattr__, __dir__ = attach(
    __name__,
    {
        "grid": [
            "MAX_COMBINATIONS",
            "MAX_GRID_COMBINATIONS",
            "GridAxis",
            "check_bars",
            "check_grid",
            "grid_size",
        ],
        "result": ["LOWER_IS_BETTER", "METRICS", "SweepResult", "rank"],
        "run": ["Constraint", "Progress", "equity_curves", "sweep", "sweep_ma_crossover"],
    },
)

__all__ = [
    "LOWER_IS_BETTER",
    "MAX_COMBINATIONS",
    "MAX_GRID_COMBINATIONS",
    "METRICS",
    "Constraint",
    "GridAxis",
    "Progress",
    "SweepResult",
    "check_bars",
    "check_grid",
    "equity_curves",
    "grid_size",
    "rank",
    "sweep",
    "sweep_ma_crossover",
]
