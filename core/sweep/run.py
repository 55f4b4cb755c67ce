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
from typing import Any, Literal

import numpy as np
import pandas as pd

from core.backtest._prices import as_price_frame, fill_prices
from core.backtest.spec import BacktestSpec
from core.strategies import STRATEGIES, run_strategy, validate_params
from core.strategies._indicators import cross_positions
from core.sweep._engine import DEFAULT_CHUNK, PositionSource, run_blocked
from core.sweep._kernel import simulate_targets
from core.sweep.grid import MAX_GRID_COMBINATIONS, grid_size
from core.sweep.result import METRICS, SweepResult

Constraint = Callable[[dict[str, np.ndarray]], np.ndarray]
"""``f(dict of param arrays) -> bool array``: which combinations to keep."""
Progress = Callable[[float], None]
"""``progress(fraction)`` after each chunk of columns; it may raise to stop the sweep."""


class _MASource:
    """Crossover targets of (fast, slow) window pairs for blocks of bars.

    SMAs come from one cumulative sum, the same arithmetic as
    :func:`core.strategies._indicators.rolling_mean_matrix`, computed per time block for
    the distinct windows only. Consecutive pairs sharing a fast window and taking
    consecutive slow windows compare against a view of the slow SMAs (no copy).
    """

    def __init__(
        self,
        close: np.ndarray,
        fast: np.ndarray,
        slow: np.ndarray,
        fast_idx: np.ndarray,
        slow_idx: np.ndarray,
        allow_short: bool,
        entry: str,
    ) -> None:
        self.csum = np.concatenate([[0.0], np.cumsum(close)])
        self.fast, self.slow = fast, slow
        self.fast_idx, self.slow_idx = fast_idx, slow_idx
        self.allow_short, self.entry = allow_short, entry
        self.block: tuple[int, int] | None = None
        self.fast_ma = self.slow_ma = np.empty((0, 0))
        self.side = np.zeros(fast_idx.shape[0], dtype=np.int8)
        self.started = np.zeros(fast_idx.shape[0], dtype=bool)

    def _sma(self, windows: np.ndarray, t0: int, t1: int) -> np.ndarray:
        out = np.full((windows.shape[0], t1 - t0), np.nan)
        for j, w in enumerate(windows.tolist()):
            first = max(t0, w - 1)
            if first < t1:
                hi = self.csum[first + 1 : t1 + 1]
                lo = self.csum[first + 1 - w : t1 + 1 - w]
                np.divide(hi - lo, w, out=out[j, first - t0 :])
        return out

    def _compare(self, op: np.ufunc, fi: np.ndarray, si: np.ndarray) -> np.ndarray:
        out = np.empty((fi.shape[0], self.fast_ma.shape[1]), dtype=bool)
        breaks = np.flatnonzero((fi[1:] != fi[:-1]) | (si[1:] != si[:-1] + 1)) + 1
        with np.errstate(invalid="ignore"):
            if breaks.shape[0] > max(4, fi.shape[0] // 8):
                op(self.fast_ma[fi], self.slow_ma[si], out=out)
                return out
            for r0, r1 in zip(
                np.append(0, breaks).tolist(), np.append(breaks, fi.shape[0]).tolist(), strict=True
            ):
                s0 = int(si[r0])
                op(self.fast_ma[fi[r0]], self.slow_ma[s0 : s0 + r1 - r0], out=out[r0:r1])
        return out

    def __call__(self, lo: int, hi: int, t0: int, t1: int) -> np.ndarray:
        if self.block != (t0, t1):
            self.fast_ma = self._sma(self.fast, t0, t1)
            self.slow_ma = self._sma(self.slow, t0, t1)
            self.block = (t0, t1)
        fi, si = self.fast_idx[lo:hi], self.slow_idx[lo:hi]
        if self.entry == "cross":
            pos, self.side[lo:hi], self.started[lo:hi] = cross_positions(
                self.fast_ma[fi],
                self.slow_ma[si],
                self.allow_short,
                self.side[lo:hi],
                self.started[lo:hi],
            )
            return pos
        long = self._compare(np.greater, fi, si).view(np.int8)
        if not self.allow_short:
            return long
        out: np.ndarray = long - self._compare(np.less, fi, si).view(np.int8)
        return out


def _run_sweep(
    positions: PositionSource,
    n_combos: int,
    prices: pd.DataFrame,
    spec: BacktestSpec,
    chunk_size: int | None,
    progress: Progress | None = None,
    *,
    block_bars: int | None = None,
    binary: bool = False,
) -> dict[str, np.ndarray]:
    """Simulate and score ``n_combos`` columns with the blocked engine
    (:func:`core.sweep._engine.run_blocked`)."""
    if n_combos == 0:
        return {}
    return run_blocked(
        positions,
        n_combos,
        prices["close"].to_numpy(dtype=np.float64),
        fill_prices(prices),
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
        periods_per_year=spec.periods_per_year,
        chunk_size=chunk_size or DEFAULT_CHUNK,
        block_bars=block_bars,
        binary=binary,
        progress=progress,
    )


def equity_curves(
    prices: pd.DataFrame | pd.Series, positions: pd.DataFrame, spec: BacktestSpec | None = None
) -> pd.DataFrame:
    """Per-bar equity of many target-position columns, with the sweep's numpy kernel.

    Equal to ``run_backtest(prices, positions[col], spec).equity`` for every column.
    """
    prices = as_price_frame(prices)
    spec = (spec or BacktestSpec()).for_index(prices.index)
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
    axes = _grid_axes(grid)
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    arrays = {name: axis.ravel() for name, axis in zip(axes, mesh, strict=True)}
    return _valid_combos(strategy, arrays, constraints, fixed)


def _grid_axes(grid: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, np.ndarray]:
    """The axes of ``grid`` as flat arrays, checked: a grid, at most
    :data:`MAX_GRID_COMBINATIONS` raw combinations (from the lengths), no empty axis."""
    if not grid:
        raise ValueError("grid is empty")
    total = grid_size(grid)
    if total > MAX_GRID_COMBINATIONS:
        raise ValueError(
            f"the grid has {total:,} combinations, more than {MAX_GRID_COMBINATIONS:,}; "
            "use fewer values per axis"
        )
    axes = {name: np.asarray(values).ravel() for name, values in grid.items()}
    if any(v.size == 0 for v in axes.values()):
        raise ValueError("every grid axis needs at least one value")
    return axes


def _passes(
    arrays: Mapping[str, np.ndarray], constraints: Constraint | Sequence[Constraint] | None
) -> np.ndarray:
    """One bool per row of ``arrays`` (one array per swept param): passes every constraint."""
    keep = np.ones(next(iter(arrays.values())).size, dtype=bool)
    if constraints is not None:
        for constraint in [constraints] if callable(constraints) else constraints:
            keep &= np.asarray(constraint(dict(arrays)), dtype=bool)
    return keep


def _valid_combos(
    strategy: str,
    arrays: Mapping[str, np.ndarray],
    constraints: Constraint | Sequence[Constraint] | None,
    fixed: Mapping[str, Any],
) -> pd.DataFrame:
    """The rows of ``arrays`` (one array per swept param) that pass ``constraints`` and
    the params model, in their order."""
    names = list(arrays)
    keep = _passes(arrays, constraints)
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
    entry: Literal["state", "cross"] = "state",
    chunk_size: int | None = None,
    block_bars: int | None = None,
) -> SweepResult:
    """Sweep every (fast, slow) moving-average pair with ``fast < slow`` in one pass.

    Each distinct window's SMA is computed once per block of bars; positions, fills and
    metrics of all pairs are evaluated block by block (:mod:`core.sweep._engine`), so
    memory stays flat in the number of bars and pairs.

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
    entry : {"state", "cross"}
        ``"state"``: hold whenever SMA(fast) > SMA(slow); ``"cross"``: trade only on a
        real crossover (see :class:`core.strategies.single.MACrossoverParams`).
    chunk_size : int, optional
        Pairs whose positions are built together (cache-sized by default).
    block_bars : int, optional
        Bars per time block (by default about 12 million bars x pairs per block).
    """
    start = time.perf_counter()
    prices = as_price_frame(prices)
    spec = (spec or BacktestSpec()).for_index(prices.index)
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
    source = _MASource(close, fast, slow, fast_idx, slow_idx, allow_short, entry)
    chunks = _run_sweep(
        source,
        len(combos),
        prices,
        spec,
        chunk_size,
        block_bars=block_bars,
        binary=not allow_short,
    )
    fixed = {"allow_short": allow_short, "entry": entry}
    return _assemble("ma_crossover", combos, chunks, start, spec, metric, fixed)


def sweep(
    strategy: str,
    prices: pd.DataFrame | pd.Series,
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    constraints: Constraint | Sequence[Constraint] | None = None,
    spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    fixed: Mapping[str, Any] | None = None,
    chunk_size: int | None = None,
    progress: Progress | None = None,
    block_bars: int | None = None,
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
    chunk_size : int, optional
        Columns whose positions are built together (cache-sized by default).
    progress : callable, optional
        ``progress(fraction)`` between chunks; an exception it raises (e.g. a cancelled
        job) stops the sweep.
    block_bars : int, optional
        Bars per time block of the ``ma_crossover`` fast path (other strategies build
        each column's positions over all bars at once, in one block).

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
    prices = as_price_frame(prices)
    spec = (spec or BacktestSpec()).for_index(prices.index)
    unknown = set(grid) - set(STRATEGIES[strategy].params_model.model_fields)
    if unknown:
        raise ValueError(f"{strategy} has no parameters {sorted(unknown)}")
    combos = _grid_combos(strategy, grid, constraints, fixed)
    metrics = _combo_metrics(
        strategy, prices, combos, spec, fixed, chunk_size, progress, block_bars, set(grid)
    )
    return _assemble(strategy, combos, metrics, start, spec, metric, fixed)


def _combo_metrics(
    strategy: str,
    prices: pd.DataFrame,
    combos: pd.DataFrame,
    spec: BacktestSpec,
    fixed: Mapping[str, Any],
    chunk_size: int | None,
    progress: Progress | None,
    block_bars: int | None,
    swept: set[str],
) -> dict[str, np.ndarray]:
    """The metrics of every row of ``combos`` (a frame of swept params) on ``prices``."""
    if strategy == "ma_crossover" and swept == {"fast", "slow"}:
        params = validate_params(strategy, {**fixed, "fast": 1, "slow": 2})
        allow_short = bool(params.model_dump()["allow_short"])
        entry = str(params.model_dump()["entry"])
        close = prices["close"].to_numpy(dtype=np.float64)
        ufast, fast_idx = np.unique(combos["fast"].to_numpy(dtype=np.int64), return_inverse=True)
        uslow, slow_idx = np.unique(combos["slow"].to_numpy(dtype=np.int64), return_inverse=True)
        source: PositionSource = _MASource(
            close, ufast, uslow, fast_idx, slow_idx, allow_short, entry
        )
        return _run_sweep(
            source,
            len(combos),
            prices,
            spec,
            chunk_size,
            progress,
            block_bars=block_bars,
            binary=not allow_short,
        )

    names = list(combos.columns)

    def positions(lo: int, hi: int, t0: int, t1: int) -> np.ndarray:
        cols = []
        for row in combos.iloc[lo:hi].itertuples(index=False):
            params = {**fixed, **{n: _py(v) for n, v in zip(names, row, strict=True)}}
            cols.append(run_strategy(strategy, prices, params).to_numpy(dtype=np.float64))
        return np.vstack(cols)[:, t0:t1]

    return _run_sweep(
        positions, len(combos), prices, spec, chunk_size, progress, block_bars=len(prices)
    )


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


__all__ = ["Constraint", "Progress", "equity_curves", "sweep", "sweep_ma_crossover"]
