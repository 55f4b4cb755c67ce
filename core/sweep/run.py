"""Vectorized parameter sweeps without vectorbt.

All grid combinations are simulated at once by the pure-numpy kernel in
:mod:`core.sweep._kernel`, which reproduces vectorbt's
``from_orders(size_type="targetpercent")`` fills (same :data:`EXECUTION` convention)
bit for bit, and metrics are computed on (T x N) arrays. Importing this module does not
import vectorbt or numba, so the first sweep in a fresh process is fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import metrics as m
from core.backtest._prices import as_price_frame, fill_prices
from core.backtest.execution import held_targets
from core.backtest.spec import BacktestSpec
from core.strategies import STRATEGIES, run_strategy, validate_params
from core.strategies._indicators import rolling_mean_matrix
from core.sweep._kernel import (
    concat_orders,
    equity_rows,
    execute_orders,
    extract_orders,
    simulate_targets,
)
from core.sweep.grid import MAX_GRID_COMBINATIONS, grid_size
from core.sweep.result import METRICS, SweepResult

Constraint = Callable[[dict[str, np.ndarray]], np.ndarray]
"""``f(dict of param arrays) -> bool array``: which combinations to keep."""
Progress = Callable[[float], None]
"""``progress(fraction)`` after each chunk of columns; it may raise to stop the sweep."""


def _ma_rows(fast_ma: np.ndarray, slow_ma: np.ndarray, allow_short: bool) -> np.ndarray:
    """int8 crossover positions (same values as ``ma_crossover_positions``), 8x less memory."""
    with np.errstate(invalid="ignore"):
        long = (fast_ma > slow_ma).view(np.int8)
        if not allow_short:
            return long
        return long - (fast_ma < slow_ma).view(np.int8)


PositionBuilder = Callable[[int, int], np.ndarray]


def _run_sweep(
    positions: PositionBuilder,
    n_combos: int,
    prices: pd.DataFrame,
    spec: BacktestSpec,
    chunk_size: int,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Simulate and score ``n_combos`` columns in three vectorized phases.

    1. per chunk of columns: targets (N, T) -> held targets, position metrics, sparse orders;
    2. all orders of all columns at once (loop over order rank, vectorized over columns);
    3. per chunk: equity (N, T) -> return metrics.

    ``positions(lo, hi)`` returns the targets of columns ``lo:hi`` as rows (hi - lo, T).
    ``progress(fraction)`` is called after each chunk of phase 1 (up to 0.8), after
    phase 2 (0.9) and at the end (1.0).
    """
    if n_combos == 0:
        return {}
    close = prices["close"].to_numpy(dtype=np.float64)
    fill = fill_prices(prices)
    ppy = spec.periods_per_year
    bounds = [(lo, min(lo + chunk_size, n_combos)) for lo in range(0, n_combos, chunk_size)]
    books, pos_metrics = [], []
    for done, (lo, hi) in enumerate(bounds, start=1):
        held = held_targets(positions(lo, hi), axis=1)
        pos_metrics.append(m.position_metrics(held.T, ppy))
        books.append(extract_orders(held))
        if progress is not None:
            progress(0.8 * done / len(bounds))
    states = execute_orders(
        concat_orders(books),
        fill,
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
    )
    if progress is not None:
        progress(0.9)
    eq_metrics = [
        m.equity_metrics(equity_rows(states, close, lo, hi).T, spec.init_cash, ppy)
        for lo, hi in bounds
    ]
    out = {}
    for chunks in (eq_metrics, pos_metrics):
        for name in chunks[0]:
            out[name] = np.concatenate([c[name] for c in chunks])
    if progress is not None:
        progress(1.0)
    return out


def equity_curves(
    prices: pd.DataFrame | pd.Series, positions: pd.DataFrame, spec: BacktestSpec | None = None
) -> pd.DataFrame:
    """Per-bar equity of many target-position columns, with the sweep's numpy kernel.

    Equal to ``run_backtest(prices, positions[col], spec).equity`` for every column.
    """
    spec = spec or BacktestSpec()
    prices = as_price_frame(prices)
    targets = positions.reindex(prices.index).fillna(0.0).to_numpy(dtype=np.float64)
    sim = simulate_targets(
        fill_prices(prices),
        prices["close"].to_numpy(dtype=np.float64),
        targets,
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
    )
    return pd.DataFrame(sim.equity, index=prices.index, columns=positions.columns)


def _grid_combos(
    strategy: str,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    constraints: Constraint | Sequence[Constraint] | None,
    fixed: Mapping[str, Any],
) -> pd.DataFrame:
    """All valid combinations of ``grid`` (constraints, then params-model validation)."""
    if not grid:
        raise ValueError("grid is empty")
    names = list(grid)
    total = grid_size(grid)
    if total > MAX_GRID_COMBINATIONS:
        raise ValueError(
            f"the grid has {total:,} combinations, more than {MAX_GRID_COMBINATIONS:,}; "
            "use fewer values per axis"
        )
    values = [np.asarray(grid[name]).ravel() for name in names]
    if any(v.size == 0 for v in values):
        raise ValueError("every grid axis needs at least one value")
    mesh = np.meshgrid(*values, indexing="ij")
    arrays = {name: axis.ravel() for name, axis in zip(names, mesh, strict=True)}
    keep = np.ones(mesh[0].size, dtype=bool)
    if constraints is not None:
        for constraint in [constraints] if callable(constraints) else constraints:
            keep &= np.asarray(constraint(arrays), dtype=bool)
    combos = pd.DataFrame({name: arr[keep] for name, arr in arrays.items()})
    valid = np.ones(len(combos), dtype=bool)
    for i, row in enumerate(combos.itertuples(index=False)):
        params = {
            **fixed,
            **{n: v.item() if hasattr(v, "item") else v for n, v in zip(names, row, strict=True)},
        }
        try:
            validate_params(strategy, params)
        except ValueError:
            valid[i] = False
    return combos[valid].reset_index(drop=True)


def _assemble(
    strategy: str,
    combos: pd.DataFrame,
    metric_values: dict[str, np.ndarray],
    start: float,
    spec: BacktestSpec,
    metric: str,
    fixed: Mapping[str, Any],
) -> SweepResult:
    table = combos.copy()
    for name in METRICS:
        table[name] = metric_values.get(name, np.empty(0))
    if metric not in table.columns:
        raise ValueError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
    return SweepResult(
        table=table,
        strategy=strategy,
        param_names=tuple(combos.columns),
        combinations=len(table),
        seconds=time.perf_counter() - start,
        metric=metric,
        spec=spec,
        fixed_params=dict(fixed),
    )


def sweep_ma_crossover(
    prices: pd.DataFrame | pd.Series,
    fast: Sequence[int] | np.ndarray,
    slow: Sequence[int] | np.ndarray,
    spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    allow_short: bool = False,
    chunk_size: int = 256,
) -> SweepResult:
    """Sweep every (fast, slow) moving-average pair with ``fast < slow`` in one pass.

    Each distinct window's SMA is computed once; positions, fills and metrics for all
    pairs are evaluated as (T x chunk) arrays, ``chunk_size`` columns at a time.

    Parameters
    ----------
    prices : DataFrame or Series
        Canonical frame (``close``; fills at ``open`` when present) or a close Series.
    fast, slow : array of int
        Candidate windows; pairs with ``fast >= slow`` are skipped.
    spec : BacktestSpec, optional
        Costs and capital (same :data:`EXECUTION` as :func:`run_backtest`).
    metric : str
        Default ranking metric of the result.
    allow_short : bool
        Short while SMA(fast) < SMA(slow).
    chunk_size : int
        Columns simulated together (bounds peak memory).
    """
    start = time.perf_counter()
    spec = spec or BacktestSpec()
    prices = as_price_frame(prices)
    fast = np.unique(np.asarray(fast, dtype=np.int64))
    slow = np.unique(np.asarray(slow, dtype=np.int64))
    if fast.size == 0 or slow.size == 0 or fast.min() < 1 or slow.min() < 2:
        raise ValueError("fast windows must be >= 1 and slow windows >= 2 (non-empty)")
    if fast.size * slow.size > MAX_GRID_COMBINATIONS:
        raise ValueError(
            f"{fast.size * slow.size:,} (fast, slow) pairs exceed {MAX_GRID_COMBINATIONS:,}"
        )
    fast_idx, slow_idx = np.meshgrid(np.arange(fast.size), np.arange(slow.size), indexing="ij")
    keep = fast[fast_idx] < slow[slow_idx]
    fast_idx, slow_idx = fast_idx[keep], slow_idx[keep]
    combos = pd.DataFrame({"fast": fast[fast_idx], "slow": slow[slow_idx]})
    close = prices["close"].to_numpy(dtype=np.float64)
    fast_ma_rows = np.ascontiguousarray(rolling_mean_matrix(close, fast).T)
    slow_ma_rows = np.ascontiguousarray(rolling_mean_matrix(close, slow).T)

    def positions(lo: int, hi: int) -> np.ndarray:
        return _ma_rows(fast_ma_rows[fast_idx[lo:hi]], slow_ma_rows[slow_idx[lo:hi]], allow_short)

    chunks = _run_sweep(positions, len(combos), prices, spec, chunk_size)
    return _assemble(
        "ma_crossover", combos, chunks, start, spec, metric, {"allow_short": allow_short}
    )


def sweep(
    strategy: str,
    prices: pd.DataFrame | pd.Series,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    constraints: Constraint | Sequence[Constraint] | None = None,
    spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    fixed: Mapping[str, Any] | None = None,
    chunk_size: int = 256,
    progress: Progress | None = None,
) -> SweepResult:
    """Sweep a registered strategy over the cartesian product of ``grid``.

    Parameters
    ----------
    strategy : str
        A name in :data:`core.strategies.STRATEGIES`.
    prices : DataFrame or Series
        Canonical price frame.
    grid : mapping of param name to values
        Axes of the grid; other params take ``fixed`` values or their defaults.
    constraints : callable or list of callables, optional
        ``f(dict of param arrays) -> bool array`` applied to all combinations at once,
        e.g. ``lambda p: p["fast"] < p["slow"]``. Combinations the params model rejects
        are dropped as well.
    spec : BacktestSpec, optional
        Costs and capital.
    metric : str
        Default ranking metric.
    fixed : mapping, optional
        Non-swept parameters.
    chunk_size : int
        Columns simulated together.
    progress : callable, optional
        ``progress(fraction)`` between chunks; an exception it raises (e.g. a cancelled
        job) stops the sweep.

    Notes
    -----
    ``ma_crossover`` uses the SMA-sharing fast path of :func:`sweep_ma_crossover`; other
    strategies compute each combination's positions with the strategy function, then
    simulate and score all of them as (T x N) arrays.
    """
    start = time.perf_counter()
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    fixed = dict(fixed or {})
    spec = spec or BacktestSpec()
    prices = as_price_frame(prices)
    unknown = set(grid) - set(STRATEGIES[strategy].params_model.model_fields)
    if unknown:
        raise ValueError(f"{strategy} has no parameters {sorted(unknown)}")
    combos = _grid_combos(strategy, grid, constraints, fixed)
    if strategy == "ma_crossover" and set(grid) == {"fast", "slow"}:
        allow_short = bool(fixed.get("allow_short", False))
        fast = combos["fast"].to_numpy(dtype=np.int64)
        slow = combos["slow"].to_numpy(dtype=np.int64)
        close = prices["close"].to_numpy(dtype=np.float64)
        ufast, fast_idx = np.unique(fast, return_inverse=True)
        uslow, slow_idx = np.unique(slow, return_inverse=True)
        fast_ma_rows = np.ascontiguousarray(rolling_mean_matrix(close, ufast).T)
        slow_ma_rows = np.ascontiguousarray(rolling_mean_matrix(close, uslow).T)

        def positions(lo: int, hi: int) -> np.ndarray:
            return _ma_rows(
                fast_ma_rows[fast_idx[lo:hi]], slow_ma_rows[slow_idx[lo:hi]], allow_short
            )

    else:
        names = list(combos.columns)

        def positions(lo: int, hi: int) -> np.ndarray:
            cols = []
            for row in combos.iloc[lo:hi].itertuples(index=False):
                params = {**fixed, **{n: _py(v) for n, v in zip(names, row, strict=True)}}
                cols.append(run_strategy(strategy, prices, params).to_numpy(dtype=np.float64))
            return np.vstack(cols)

    chunks = _run_sweep(positions, len(combos), prices, spec, chunk_size, progress)
    return _assemble(strategy, combos, chunks, start, spec, metric, fixed)


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


__all__ = ["Constraint", "Progress", "equity_curves", "sweep", "sweep_ma_crossover"]
