"""Sweeps in chunks: grid slices x symbols fanned out with :func:`core.cluster.map_chunks`,
reduced as they arrive so that memory does not grow with the grid.

The grid (the cartesian product of the axes, last axis fastest, as in
:func:`core.sweep.sweep`) is cut into ``ceil(raw / CHUNK_COMBOS)`` contiguous slices
holding about equal numbers of combinations that pass the grid's constraints (even
costs: see :func:`plan_chunks`), for every symbol. A chunk (:class:`SweepChunk`) is
computed by :func:`sweep_chunk`, a top-level function the Dask workers import: the
slice's constraints and params-model checks, then the blocked engine, giving that
slice's metrics table. The slices depend on the grid only, never on the workers,
and the engine's time blocks (:func:`chunk_block_bars`) only on the grid's size, so
a chunked sweep gives the same numbers on any cluster, in serial, and from
:func:`core.sweep.sweep` called with the same ``block_bars`` (the default when the whole
grid is one chunk).

:class:`SweepReducer` keeps, per arriving chunk: the best ``top_n`` rows, the best row of
every symbol, a heatmap (first two swept params, max of the metric; symbol x first param
for a universe), running Sharpe moments over all trials (for the deflated Sharpe ratio),
and writes the full table to a Parquet file in grid order (chunks that arrive early wait
on disk, not in memory).
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.backtest._prices import as_price_frame
from core.backtest.spec import BacktestSpec
from core.strategies import STRATEGIES
from core.sweep._engine import default_block_bars
from core.sweep.grid import grid_size
from core.sweep.result import LOWER_IS_BETTER, METRICS, rank
from core.sweep.run import Constraint, _combo_metrics, _grid_axes, _passes, _valid_combos

CHUNK_COMBOS = 20_000
"""Raw grid combinations per chunk (fixed: results never depend on the cluster)."""
TOP_N = 100
"""Best rows a chunked sweep keeps (by its metric)."""
SYMBOL = "symbol"
"""The symbol column of a universe sweep's tables."""
BATCH_ROWS = 65_536
"""Rows read at a time from a stored table by :func:`rank_stored` and :func:`pivot_stored`."""
_ROW = "_row"


@dataclass(frozen=True)
class SweepChunk:
    """Raw combinations ``lo:hi`` of the grid (C order) on one symbol."""

    index: int
    symbol: str
    lo: int
    hi: int


def plan_chunks(
    raw_total: int,
    symbols: Sequence[str],
    chunk_combos: int = CHUNK_COMBOS,
    valid: np.ndarray | None = None,
) -> list[SweepChunk]:
    """Symbol-major slices of the raw grid, ``ceil(raw_total / chunk_combos)`` per symbol.

    Without ``valid`` each slice holds ``chunk_combos`` raw combinations; with
    ``valid`` (one bool per raw combination: passes the grid's constraints) the slices
    are cut where they hold about equal numbers of valid combinations, so their costs
    are even whatever the constraints leave of each part of the grid (fast < slow keeps
    most of the first rows and few of the last). Slices stay contiguous and in grid
    order: the concatenated tables are the unchunked table.

    >>> [(c.symbol, c.lo, c.hi) for c in plan_chunks(5, ["A", "B"], 3)]
    [('A', 0, 3), ('A', 3, 5), ('B', 0, 3), ('B', 3, 5)]
    >>> [(c.lo, c.hi) for c in plan_chunks(6, ["A"], 3, np.array([1, 1, 1, 1, 0, 0], bool))]
    [(0, 2), (2, 6)]
    """
    if chunk_combos < 1:
        raise ValueError(f"chunk_combos must be >= 1, not {chunk_combos}")
    n = -(-raw_total // chunk_combos)
    if valid is None or not valid.any():
        edges = [*range(0, raw_total, chunk_combos), raw_total]
    else:
        if valid.shape != (raw_total,):
            raise ValueError(f"valid needs {raw_total} flags, not {valid.shape}")
        counts = np.cumsum(valid, dtype=np.int64)
        targets = np.arange(1, n, dtype=np.float64) * (counts[-1] / n)
        cuts = np.searchsorted(counts, targets, side="left") + 1  # first hi reaching it
        edges = sorted({0, raw_total, *(int(c) for c in cuts if 0 < c < raw_total)})
    slices = list(itertools.pairwise(edges))
    return [
        SweepChunk(i * len(slices) + k, symbol, lo, hi)
        for i, symbol in enumerate(symbols)
        for k, (lo, hi) in enumerate(slices)
    ]


def constraint_mask(
    axes: Mapping[str, np.ndarray],
    constraints: Sequence[Constraint] | None,
    block: int = 1 << 18,
) -> np.ndarray | None:
    """One bool per raw combination of the grid (C order): passes every constraint
    (``None`` without constraints); computed ``block`` combinations at a time."""
    if not constraints:
        return None
    raw = grid_size(axes)
    mask = np.empty(raw, dtype=bool)
    for lo in range(0, raw, block):
        hi = min(lo + block, raw)
        mask[lo:hi] = _passes(_grid_slice(axes, lo, hi), constraints)
    return mask


def _grid_slice(axes: Mapping[str, np.ndarray], lo: int, hi: int) -> dict[str, np.ndarray]:
    """Raw combinations ``lo:hi`` of the grid (C order), one array per swept param."""
    shape = tuple(int(v.size) for v in axes.values())
    coords = np.unravel_index(np.arange(lo, hi, dtype=np.int64), shape)
    return {name: axes[name][c] for name, c in zip(axes, coords, strict=True)}


def chunk_block_bars(raw_total: int, chunk_combos: int = CHUNK_COMBOS) -> int:
    """Bars per time block of every chunk: the engine's default for a run of
    ``min(raw_total, chunk_combos)`` columns (a function of the grid only).

    >>> chunk_block_bars(1_000_000), chunk_block_bars(2_000)
    (600, 6000)
    """
    return default_block_bars(min(raw_total, chunk_combos))


def sweep_chunk(
    chunk: SweepChunk,
    *,
    strategy: str,
    prices: pd.DataFrame | Mapping[str, pd.DataFrame],
    axes: Mapping[str, np.ndarray],
    constraints: Sequence[Constraint] | None,
    fixed: Mapping[str, Any],
    spec: BacktestSpec,
    block_bars: int,
    stop: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """The metrics table of one chunk: its valid combinations (constraints, then the
    params model), then :data:`METRICS` from the blocked engine, on ``prices``: the
    chunk's symbol's frame (all its task receives from :func:`sweep_chunked`), or a
    mapping of symbol to frame. ``stop()`` (in-process
    runs: ``check``; on Dask: :class:`core.cluster.StopProbe`) is called between the
    engine's column chunks and may raise to stop."""
    combos = _valid_combos(
        strategy, _grid_slice(axes, chunk.lo, chunk.hi), constraints or None, fixed
    )
    engine_progress = None
    if stop is not None:
        within = getattr(stop, "within", None)  # a serial run's progress inside the chunk

        def engine_progress(fraction: float) -> None:
            if within is not None:
                within(fraction)
            stop()

    frame = prices if isinstance(prices, pd.DataFrame) else prices[chunk.symbol]
    metrics = _combo_metrics(
        strategy,
        frame,
        combos,
        spec.for_index(frame.index),
        fixed,
        None,
        engine_progress,
        block_bars,
        set(axes),
    )
    table = combos.copy()
    for name in METRICS:
        table[name] = metrics.get(name, np.empty(0))
    return table


def _spec_of_frames(spec: BacktestSpec, frames: Mapping[str, pd.DataFrame]) -> BacktestSpec:
    """``spec`` with the bar frequency of the frames (:meth:`BacktestSpec.for_index`),
    which must be the same for every symbol: their metrics are ranked together."""
    specs = {symbol: spec.for_index(frame.index) for symbol, frame in frames.items()}
    freqs = {s.freq for s in specs.values()}
    if len(freqs) > 1:
        by = ", ".join(f"{symbol} {s.freq}" for symbol, s in list(specs.items())[:4])
        raise ValueError(
            f"the symbols have different bar intervals ({by}); sweep symbols of one "
            "bar frequency together"
        )
    return next(iter(specs.values()), spec)


def chunk_symbol(chunk: SweepChunk) -> str:
    """The symbol of a chunk (the group of its prices in :func:`map_chunks`)."""
    return chunk.symbol


def prices_hash(prices: Mapping[str, pd.DataFrame]) -> str:
    """sha256 of every symbol's name, index and values (the data part of a cache key)."""
    digest = hashlib.sha256()
    for symbol in sorted(prices):
        digest.update(symbol.encode())
        frame = prices[symbol]
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()


@dataclass
class _Moments:
    """Count, mean and sum of squared deviations (Chan et al.'s parallel combination)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        x = values[np.isfinite(values)]
        if x.size:
            mean = float(x.mean())
            self.merge(_Moments(int(x.size), mean, float(((x - mean) ** 2).sum())))

    def merge(self, other: _Moments) -> None:
        if other.n == 0:
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    @property
    def variance(self) -> float:
        """Sample variance (ddof=1); NaN below two values."""
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")


class _OrderedParquet:
    """Chunk tables written to one Parquet file in chunk order, whatever order they
    arrive in; early chunks wait in a spill folder beside the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.spill = Path(tempfile.mkdtemp(prefix=".spill-", dir=path.parent))
        self.next = 0
        self.writer: Any = None
        self.schema: Any = None
        self.empty: pd.DataFrame | None = None

    def _write(self, table: pd.DataFrame, *, force: bool = False) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no stubs
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        if table.empty and self.writer is None and not force:
            self.empty = table  # its metric dtypes are not the engine's: no schema from it
            return
        arrow = pa.Table.from_pandas(table, preserve_index=False, schema=self.schema)
        if self.writer is None:
            self.schema = arrow.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(arrow)

    def add(self, index: int, table: pd.DataFrame) -> None:
        if index != self.next:
            table.to_pickle(self.spill / f"{index}.pkl")
            return
        self._write(table)
        self.next += 1
        while (waiting := self.spill / f"{self.next}.pkl").exists():
            self._write(pd.read_pickle(waiting))
            waiting.unlink()
            self.next += 1

    def close(self) -> None:
        if self.writer is None and self.empty is not None:
            self._write(self.empty, force=True)  # every chunk was empty
        if self.writer is not None:
            self.writer.close()
        shutil.rmtree(self.spill, ignore_errors=True)


@dataclass
class SweepReducer:
    """Folds chunk tables into the bounded results of a sweep (see the module doc)."""

    chunks: Sequence[SweepChunk]
    axes: Mapping[str, np.ndarray]
    metric: str
    top_n: int = TOP_N
    universe: bool = False
    table_path: Path | None = None
    rows: int = 0
    rows_by_symbol: dict[str, int] = field(default_factory=dict)
    rows_by_chunk: dict[int, int] = field(default_factory=dict)
    sharpe_parts: dict[int, _Moments] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = list(self.axes)
        self.param_names = tuple(names)
        self._top: pd.DataFrame | None = None
        self._best: dict[str, pd.DataFrame] = {}
        self._writer = _OrderedParquet(self.table_path) if self.table_path else None
        symbols = list(dict.fromkeys(c.symbol for c in self.chunks))
        self.symbols = symbols
        if self.universe:
            self._heat_index = {s: i for i, s in enumerate(symbols)}
            self._heat_values = [np.unique(self.axes[names[0]])]
            shape: tuple[int, ...] = (len(symbols), self._heat_values[0].size)
        else:
            self._heat_values = [np.unique(self.axes[n]) for n in names[:2]]
            shape = tuple(v.size for v in self._heat_values) if len(names) >= 2 else (0, 0)
        self._heat = np.full(shape, np.nan)
        self._seen = [np.zeros(n, dtype=bool) for n in shape]
        # a row's key: its raw position in the symbol-major grid (rows <= raw combos)
        raw = grid_size(self.axes)
        where = {s: i for i, s in enumerate(symbols)}
        self._starts = np.array([where[c.symbol] * raw + c.lo for c in self.chunks], dtype=np.int64)

    def _ranked(self, frames: list[pd.DataFrame], n: int) -> pd.DataFrame:
        both = pd.concat(frames, ignore_index=True).sort_values(_ROW, kind="stable")
        return rank(both, self.metric, n)

    def __call__(self, index: int, table: pd.DataFrame) -> None:
        chunk = self.chunks[index]
        if self.universe:
            table = table.copy()
            table.insert(0, SYMBOL, chunk.symbol)
        n = len(table)
        self.rows += n
        self.rows_by_chunk[index] = n
        self.rows_by_symbol[chunk.symbol] = self.rows_by_symbol.get(chunk.symbol, 0) + n
        if self._writer is not None:
            self._writer.add(index, table)
        if n == 0:
            return
        part = _Moments()
        part.add(table["sharpe"].to_numpy(dtype=np.float64))
        self.sharpe_parts[index] = part
        keyed = table.assign(**{_ROW: self._starts[index] + np.arange(n)})
        frames = [keyed] if self._top is None else [self._top, keyed]
        self._top = self._ranked(frames, self.top_n)
        best = self._best.get(chunk.symbol)
        self._best[chunk.symbol] = self._ranked([keyed] if best is None else [best, keyed], 1)
        self._fold_heat(chunk, table)

    def _fold_heat(self, chunk: SweepChunk, table: pd.DataFrame) -> None:
        if self._heat.size == 0:
            return
        values = table[self.metric].to_numpy(dtype=np.float64)
        if self.universe:
            rows = np.full(len(table), self._heat_index[chunk.symbol])
            cols = np.searchsorted(self._heat_values[0], table[self.param_names[0]].to_numpy())
        else:
            rows = np.searchsorted(self._heat_values[0], table[self.param_names[0]].to_numpy())
            cols = np.searchsorted(self._heat_values[1], table[self.param_names[1]].to_numpy())
        pick = np.fmin if self.metric in LOWER_IS_BETTER and self.universe else np.fmax
        pick.at(self._heat, (rows, cols), values)
        self._seen[0][rows] = True
        self._seen[1][cols] = True

    @property
    def sharpe(self) -> _Moments:
        """Moments of the finite Sharpe ratios of every trial so far, combined in chunk
        order (the same last bits whatever order the chunks arrived in)."""
        total = _Moments()
        for index in sorted(self.sharpe_parts):
            total.merge(self.sharpe_parts[index])
        return total

    def close(self) -> None:
        """Finish the Parquet table (call once, also after a failure)."""
        if self._writer is not None:
            self._writer.close()

    def _indexed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` indexed by row number in the full table (once every chunk is in)."""
        counts = np.array([self.rows_by_chunk.get(i, 0) for i in range(len(self.chunks))])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        key = frame[_ROW].to_numpy()
        chunk = np.searchsorted(self._starts, key, side="right") - 1
        index = offsets[chunk] + key - self._starts[chunk]
        return frame.drop(columns=_ROW).set_axis(pd.Index(index, dtype=np.int64), axis=0)

    @property
    def top(self) -> pd.DataFrame:
        """The best :attr:`top_n` rows, best first (ties in grid order), indexed by their
        row in the full table (as ``rank(table, metric, top_n)`` gives them)."""
        if self._top is None:
            return pd.DataFrame()
        return self._indexed(self._top)

    @property
    def best_by_symbol(self) -> pd.DataFrame:
        """One row per symbol (in the dataset's order): its best combination."""
        frames = [self._best[s] for s in self.symbols if s in self._best]
        if not frames:
            return pd.DataFrame()
        return self._indexed(pd.concat(frames))

    @property
    def heatmap(self) -> pd.DataFrame | None:
        """``pivot_table(..., aggfunc="max")`` of the metric over the first two swept
        params (a universe: symbol x first param, the best value of the metric)."""
        if self._heat.size == 0:
            return None
        if self.universe:
            index = pd.Index(self.symbols, name=SYMBOL)
            columns = pd.Index(self._heat_values[0], name=self.param_names[0])
        else:
            index = pd.Index(self._heat_values[0], name=self.param_names[0])
            columns = pd.Index(self._heat_values[1], name=self.param_names[1])
        frame = pd.DataFrame(self._heat, index=index, columns=columns)
        frame = frame.loc[self._seen[0], self._seen[1]]
        frame = frame.loc[:, frame.notna().any(axis=0)]
        frame.columns.name = columns.name
        return frame


@dataclass(frozen=True)
class ChunkedSweep:
    """The bounded result of :func:`sweep_chunked`."""

    strategy: str
    param_names: tuple[str, ...]
    metric: str
    combinations: int
    combinations_by_symbol: dict[str, int]
    raw_combinations: int
    symbols: tuple[str, ...]
    top: pd.DataFrame
    best_by_symbol: pd.DataFrame
    heatmap: pd.DataFrame | None
    sharpe_trials: int
    sharpe_variance: float
    chunks: int
    block_bars: int
    seconds: float
    table_path: Path | None
    spec: BacktestSpec
    fixed_params: dict[str, Any]

    @property
    def throughput(self) -> float:
        """Combinations simulated per second."""
        return self.combinations / self.seconds if self.seconds > 0 else float("inf")

    def table(self) -> pd.DataFrame:
        """The full stored table (read from :attr:`table_path`)."""
        if self.table_path is None:
            raise LookupError("this sweep did not store its table (no table_path)")
        return pd.read_parquet(self.table_path)


def stored_rows(path: Path) -> int:
    """Rows of a stored table (from the Parquet footer; nothing else is read)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def _batches(path: Path, columns: Sequence[str] | None, batch_rows: int) -> Any:
    """``(first row number, frame)`` of every batch of a stored table, in table order."""
    import pyarrow.parquet as pq

    offset = 0
    with pq.ParquetFile(path) as stored:
        for batch in stored.iter_batches(batch_size=batch_rows, columns=columns):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            yield frame


def rank_stored(path: Path, metric: str, n: int, *, batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """``rank(pd.read_parquet(path), metric, n)`` read ``batch_rows`` at a time: the best
    ``n`` rows (ties in table order), indexed by row number; memory does not grow with
    the table."""
    best: pd.DataFrame | None = None
    for frame in _batches(path, None, batch_rows):
        both = frame if best is None else pd.concat([best, frame]).sort_index(kind="stable")
        best = rank(both, metric, n)
    return best if best is not None else pd.read_parquet(path)


def pivot_stored(
    path: Path, index: str, columns: str, metric: str, *, batch_rows: int = BATCH_ROWS
) -> pd.DataFrame:
    """``pd.read_parquet(path).pivot_table(index=, columns=, values=metric, aggfunc="max")``
    reading only those three columns, ``batch_rows`` at a time (memory grows with the
    heatmap's cells, not with the table)."""
    acc: pd.Series | None = None
    for frame in _batches(path, [index, columns, metric], batch_rows):
        part = frame.groupby([index, columns])[metric].max()
        acc = part if acc is None else pd.concat([acc, part]).groupby(level=[0, 1]).max()
    if acc is None:
        return pd.DataFrame()
    wide = acc.unstack(columns).sort_index().sort_index(axis=1)
    return wide.loc[wide.notna().any(axis=1), wide.notna().any(axis=0)]


PROGRESS_STEP = 0.01
"""Smallest advance of the whole sweep reported from inside a chunk (at most ~100 reports)."""


class _ChunkProgress:
    """A serial sweep's ``check``: called before each chunk and, through
    :func:`sweep_chunk`'s ``stop``, between the engine's blocks, where :meth:`within`
    reports how far the running chunk is (so the progress moves with the combinations
    done, not only once per chunk)."""

    def __init__(
        self,
        check: Callable[[], None] | None,
        report: Callable[[float, str], None],
        chunks: Sequence[SweepChunk],
        progress: Callable[[float, str], None] | None,
    ) -> None:
        self._check, self._report, self._chunks = check, report, chunks
        self._progress = progress
        self._done = 0
        self._combos = 0
        self._shown = 0.0

    def __call__(self) -> None:
        if self._check is not None:
            self._check()

    def after_chunk(self, fraction: float, message: str) -> None:
        """map_chunks' progress after a chunk: count it, pass it on."""
        chunk = self._chunks[min(self._done, len(self._chunks) - 1)]
        self._combos += chunk.hi - chunk.lo
        self._done += 1
        self._shown = fraction
        if self._progress is not None:
            self._progress(fraction, message)

    def within(self, fraction: float) -> None:
        """The running chunk is ``fraction`` done (the engine's own measure)."""
        total = len(self._chunks)
        if self._done >= total:
            return
        part = min(max(fraction, 0.0), 1.0)
        overall = (self._done + part) / total
        if overall < self._shown + PROGRESS_STEP:
            return
        self._shown = overall
        chunk = self._chunks[self._done]
        combos = self._combos + int((chunk.hi - chunk.lo) * part)
        raw = sum(c.hi - c.lo for c in self._chunks)
        self._report(
            overall,
            f"chunk {self._done + 1:,} of {total:,}: about {combos:,} of {raw:,} raw combos",
        )


def sweep_chunked(
    strategy: str,
    prices: Mapping[str, pd.DataFrame | pd.Series],
    grid: Mapping[str, Sequence[Any] | np.ndarray],
    constraints: Sequence[Constraint] | None = None,
    spec: BacktestSpec | None = None,
    metric: str = "sharpe",
    *,
    fixed: Mapping[str, Any] | None = None,
    universe: bool | None = None,
    executor: str = "serial",
    cache: Any = None,
    progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
    inner_progress: Callable[[float, str], None] | None = None,
    chunk_combos: int = CHUNK_COMBOS,
    top_n: int = TOP_N,
    table_path: Path | None = None,
    block_bars: int | None = None,
) -> ChunkedSweep:
    """Sweep ``strategy`` over ``grid`` on every symbol of ``prices`` in chunks.

    Parameters
    ----------
    prices : mapping of symbol to price frame
        One symbol for a plain sweep, several for a universe sweep.
    grid, constraints, spec, metric, fixed
        As in :func:`core.sweep.sweep` (``constraints`` must be picklable).
    universe : bool, optional
        Add a ``symbol`` column and a symbol x param heatmap (default: several symbols).
    executor : {"serial", "dask"}
        Passed to :func:`core.cluster.map_chunks`.
    cache : ChunkCache, optional
        Chunk results already stored are not recomputed (resume).
    progress, check
        ``progress(fraction, "12 of 50 chunks (240,000 combos)")``; ``check()`` raises
        to stop (pending chunks are cancelled).
    inner_progress : callable, optional
        Serial runs: also ``inner_progress(fraction of the whole sweep, "chunk 1 of 2:
        about 4,000 of 23,069 raw combos")`` from inside the running chunk, at most every
        :data:`PROGRESS_STEP` (on Dask, chunks report as they finish through ``progress``).
    chunk_combos : int
        Raw combinations per chunk.
    top_n : int
        Best rows kept.
    table_path : Path, optional
        Where the full table is written (Parquet, grid order; symbol-major).
    block_bars : int, optional
        Bars per time block of the engine (default :func:`chunk_block_bars`); pass the
        same value to :func:`core.sweep.sweep` to get the same numbers.
    """
    from core.cluster import map_chunks

    start = time.perf_counter()
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {list(METRICS)}")
    if not grid:
        raise ValueError("grid is empty")
    if not prices:
        raise ValueError("no symbols to sweep")
    unknown = set(grid) - set(STRATEGIES[strategy].params_model.model_fields)
    if unknown:
        raise ValueError(f"{strategy} has no parameters {sorted(unknown)}")
    axes = _grid_axes(grid)
    raw = grid_size(axes)
    frames = {symbol: as_price_frame(frame) for symbol, frame in prices.items()}
    fixed = dict(fixed or {})
    spec = _spec_of_frames(spec or BacktestSpec(), frames)
    rules = list(constraints or [])
    chunks = plan_chunks(raw, list(frames), chunk_combos, constraint_mask(axes, rules))
    block_bars = block_bars or chunk_block_bars(raw, chunk_combos)
    reducer = SweepReducer(
        chunks,
        axes,
        metric,
        top_n=top_n,
        universe=len(frames) > 1 if universe is None else universe,
        table_path=table_path,
    )

    def describe(done: int, total: int) -> str:
        return f"{done:,} of {total:,} chunks ({reducer.rows:,} combos)"

    stop: Callable[[], None] | None = check
    if inner_progress is not None and executor == "serial":
        inside = _ChunkProgress(check, inner_progress, chunks, progress)
        stop, progress = inside, inside.after_chunk
    try:
        map_chunks(
            sweep_chunk,
            chunks,
            shared={
                "strategy": strategy,
                "axes": axes,
                "constraints": rules,
                "fixed": fixed,
                "spec": spec,
                "block_bars": block_bars,
            },
            cache=cache,
            reduce=reducer,
            progress=progress,
            check=stop,
            executor=executor,
            describe=describe,
            stop_arg="stop",  # a long chunk stops inside, between the engine's column chunks
            keyed={"prices": frames},  # a chunk's task gets its own symbol's prices only
            chunk_key=chunk_symbol,
        )
    finally:
        reducer.close()
    return ChunkedSweep(
        strategy=strategy,
        param_names=reducer.param_names,
        metric=metric,
        combinations=reducer.rows,
        combinations_by_symbol=dict(reducer.rows_by_symbol),
        raw_combinations=raw * len(frames),
        symbols=tuple(frames),
        top=reducer.top,
        best_by_symbol=reducer.best_by_symbol,
        heatmap=reducer.heatmap,
        sharpe_trials=reducer.sharpe.n,
        sharpe_variance=reducer.sharpe.variance,
        chunks=len(chunks),
        block_bars=block_bars,
        seconds=time.perf_counter() - start,
        table_path=table_path,
        spec=spec,
        fixed_params=fixed,
    )


__all__ = [
    "BATCH_ROWS",
    "CHUNK_COMBOS",
    "SYMBOL",
    "TOP_N",
    "ChunkedSweep",
    "SweepChunk",
    "SweepReducer",
    "chunk_block_bars",
    "chunk_symbol",
    "constraint_mask",
    "pivot_stored",
    "plan_chunks",
    "prices_hash",
    "rank_stored",
    "stored_rows",
    "sweep_chunk",
    "sweep_chunked",
]
