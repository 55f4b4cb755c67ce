"""Scale-out benchmarks for ``workbench bench --only jobs`` (issue 12 §3).

- sweep throughput of the chunked sweep (:func:`core.sweep.chunked.sweep_chunked`, the
  service's code path) at >= 100,000 moving-average pairs: serial in this process, then
  on 1 and on 2 local Dask worker processes, and the unchunked sweep for reference;
- a universe sweep: the 2,258-pair reference grid on each of the 21 symbols of the
  embedded ``sp500_closes`` dataset, serial vs 2 workers;
- peak memory (coordinator and each worker) of a 1,000,000-pair sweep in a fresh
  interpreter, the full table written to Parquet as the service stores it;
- the time from ``jobs.submit`` to the job's first progress record, with a
  ``workbench jobs worker`` already running;
- the scheduler's overhead per chunk (maps of trivial chunks) and one sweep chunk's
  compute cost and result size: the inputs of the README's projection.

Every timed sweep is checked against its serial run to the last bit of every stored
column. Medians and p95 over repeats, targets in the dict; no timed unit tests.

A module of ``core`` beside :mod:`core.bench_cli`, not inside :mod:`core.cluster`: it
sweeps, and the sweep fans out through ``core.cluster``, so a bench inside the cluster
package would make the two packages import each other. :func:`sweep_slice` and
:func:`fast_slices` (grid slices by fast window) serve the process-cluster tests.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core.benchkit import FAST, SLOW, percentiles, reference_prices, run_python_json
from core.config import environ_set

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

TARGET_SPEEDUP = 1.7
"""Throughput with 2 workers / throughput with 1 worker, on 2 cores."""
TARGET_FIRST_PROGRESS_S = 1.0
"""Seconds from ``jobs.submit`` to the first progress record, a worker already running."""
TARGET_PEAK_MB = 1024.0
"""Peak memory of a 1,000,000-combination sweep (issue 12 §2, "Bounded memory")."""
THROUGHPUT_COMBOS = 100_000
MEMORY_COMBOS = 1_000_000
UNIVERSE_DATASET = "sp500_closes"


def ma_windows(n_combos: int) -> tuple[np.ndarray, np.ndarray]:
    """Fast windows 2..k+1 and slow windows 3..k+2 with at least ``n_combos`` pairs
    fast < slow (k (k + 1) / 2 of them).

    >>> from core.benchkit import grid_pairs
    >>> fast, slow = ma_windows(100_000)
    >>> len(grid_pairs(fast, slow)[0]) >= 100_000, int(fast[0]), int(slow[0])
    (True, 2, 3)
    """
    k = int(np.ceil((np.sqrt(8 * n_combos + 1) - 1) / 2))
    return np.arange(2, k + 2), np.arange(3, k + 3)


def fast_slices(fast: np.ndarray, slow: np.ndarray, n_chunks: int) -> list[np.ndarray]:
    """Contiguous slices of ``fast`` holding about equal numbers of pairs fast < slow.

    >>> parts = fast_slices(np.arange(2, 12), np.arange(3, 13), 3)
    >>> np.concatenate(parts).tolist() == list(range(2, 12)), len(parts)
    (True, 3)
    """
    pairs = np.array([(slow > f).sum() for f in fast.tolist()])
    edges = np.searchsorted(np.cumsum(pairs), np.linspace(0, pairs.sum(), n_chunks + 1)[1:-1])
    return [part for part in np.split(fast, edges + 1) if part.size]


def block_bars_of(n_combos: int) -> int:
    """The time block the unchunked sweep of ``n_combos`` pairs uses
    (:func:`core.sweep._engine.run_blocked`'s default).

    Every chunk must use the whole grid's block: the engine accumulates some metrics
    (volatility, Sharpe, Sortino) block by block, so a chunk swept with its own, longer
    blocks differs from the unchunked sweep in the last bits.
    """
    from core.sweep._engine import default_block_bars

    return default_block_bars(n_combos)


def sweep_slice(
    fast: np.ndarray, *, prices: pd.DataFrame, slow: np.ndarray, block_bars: int | None = None
) -> dict[str, Any]:
    """Metrics of every pair (f, s), f in ``fast``, s in ``slow``, f < s (one chunk)."""
    from core.sweep import METRICS, sweep_ma_crossover

    table = sweep_ma_crossover(prices, fast, slow, block_bars=block_bars).table
    return {name: table[name].to_numpy() for name in ("fast", "slow", *METRICS)}


def trivial(chunk: int) -> int:
    """A chunk that does nothing (the scheduler's overhead per chunk)."""
    return chunk


@contextlib.contextmanager
def local_workers(n_workers: int) -> Iterator[Client]:
    """The process-wide client (:func:`core.cluster.get_client`) on a fresh LocalCluster
    of ``n_workers`` processes; the previous client and environment come back after."""
    from core.cluster import close_client, get_client
    from core.cluster._client import SCHEDULER_ENV, WORKERS_ENV

    close_client()
    with environ_set({SCHEDULER_ENV: None, WORKERS_ENV: str(n_workers)}):
        try:
            client = get_client()
            client.wait_for_workers(n_workers, timeout=120)
            yield client
        finally:
            close_client()


def _gather(
    fn: Callable[..., Any],
    chunks: Sequence[Any],
    shared: Mapping[str, Any],
    executor: str,
) -> list[Any]:
    """``fn`` over ``chunks`` with :func:`core.cluster.map_chunks`, results in order."""
    from core.cluster import map_chunks

    out: list[Any] = [None] * len(chunks)

    def reduce(i: int, result: Any) -> None:
        out[i] = result

    map_chunks(fn, chunks, shared=dict(shared), reduce=reduce, executor=executor)
    return out


def chunked(
    prices: Mapping[str, pd.DataFrame],
    grid: Mapping[str, np.ndarray],
    *,
    executor: str,
    table_path: Path | None = None,
) -> Any:
    """The moving-average crossover sweep of ``grid`` on every symbol of ``prices``
    through :func:`core.sweep.chunked.sweep_chunked` (fast < slow), the code path of
    the sweep service and of a universe sweep."""
    from core.strategies.catalog import grid_constraints
    from core.sweep.chunked import sweep_chunked

    rules = grid_constraints("ma_crossover", list(grid))
    return sweep_chunked(
        "ma_crossover", prices, grid, rules, executor=executor, table_path=table_path
    )


def _bits(table: pd.DataFrame) -> list[tuple[str, str, bytes]]:
    """Every column's name, dtype and content, numbers as their bytes: equal lists are
    equal to the last bit."""

    def content(column: pd.Series) -> bytes:
        values = column.to_numpy()
        if values.dtype.kind in "biufcmM":
            return bytes(values.tobytes())
        return "\x00".join(map(str, values.tolist())).encode()

    return [(str(c), str(table[c].dtype), content(table[c])) for c in table.columns]


def _timed_chunked(
    prices: Mapping[str, pd.DataFrame],
    grid: Mapping[str, np.ndarray],
    executor: str,
    repeats: int,
    folder: Path,
) -> tuple[list[float], Any]:
    samples, result = [], None
    for i in range(repeats):
        start = time.perf_counter()
        result = chunked(prices, grid, executor=executor, table_path=folder / f"{executor}{i}.pq")
        samples.append(time.perf_counter() - start)
    return samples, result


def bench_throughput(*, repeats: int = 3, n_combos: int = THROUGHPUT_COMBOS) -> dict[str, Any]:
    """Combinations per second of the chunked sweep of >= ``n_combos`` pairs: serial in
    this process, then on 1 and on 2 Dask worker processes; and the unchunked sweep."""
    import tempfile

    from core.sweep import sweep_ma_crossover

    prices = {"SP500": reference_prices()}
    fast, slow = ma_windows(n_combos)
    grid = {"fast": fast, "slow": slow}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        folder = Path(tmp)
        serial_s, serial = _timed_chunked(prices, grid, "serial", repeats, folder)
        reference = _bits(serial.table())
        whole_s = []
        for _ in range(repeats):
            start = time.perf_counter()
            whole = sweep_ma_crossover(prices["SP500"], fast, slow, block_bars=serial.block_bars)
            whole_s.append(time.perf_counter() - start)
        unchunked_same = _bits(whole.table) == _bits(serial.table()[list(whole.table.columns)])
        combos = int(serial.combinations)
        runs: dict[str, Any] = {}
        identical = True
        for n in (1, 2):
            with local_workers(n):
                cold, _ = _timed_chunked(prices, grid, "dask", 1, folder)
                warm, result = _timed_chunked(prices, grid, "dask", repeats, folder)
                identical &= _bits(result.table()) == reference
            p = percentiles(warm)
            runs[f"workers_{n}"] = {
                "seconds": p,
                "first_sweep_seconds": cold[0],
                "combinations_per_s": {
                    "median": combos / p["median"],
                    "p95_slowest": combos / p["p95"],
                },
            }
    sp, wp = percentiles(serial_s), percentiles(whole_s)
    speedup = runs["workers_1"]["seconds"]["median"] / runs["workers_2"]["seconds"]["median"]
    return {
        "bars": len(prices["SP500"]),
        "combinations": combos,
        "raw_combinations": int(serial.raw_combinations),
        "chunks": int(serial.chunks),
        "block_bars": int(serial.block_bars),
        "serial_seconds": sp,
        "serial_combinations_per_s": combos / sp["median"],
        "unchunked_seconds": wp,
        "unchunked_combinations_per_s": combos / wp["median"],
        **runs,
        "speedup_2_over_1": speedup,
        "speedup_2_over_serial": sp["median"] / runs["workers_2"]["seconds"]["median"],
        "target_speedup": TARGET_SPEEDUP,
        "ratio_to_target": speedup / TARGET_SPEEDUP,
        "identical_to_serial": identical,
        "identical_to_unchunked": unchunked_same,
        "load_average_1min": os.getloadavg()[0],
    }


def bench_universe(*, repeats: int = 3, dataset: str = UNIVERSE_DATASET) -> dict[str, Any]:
    """The reference grid on every symbol of ``dataset`` (one chunked universe sweep):
    serial in this process vs 2 Dask worker processes."""
    import tempfile

    from core.data.loaders import embedded_sources

    source = embedded_sources()[dataset]
    prices = {symbol: source.load(symbol) for symbol in source.symbols()}
    grid = {"fast": FAST, "slow": SLOW}
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        folder = Path(tmp)
        serial_s, serial = _timed_chunked(prices, grid, "serial", repeats, folder)
        with local_workers(2):
            cold, _ = _timed_chunked(prices, grid, "dask", 1, folder)
            dask_s, result = _timed_chunked(prices, grid, "dask", repeats, folder)
            identical = _bits(result.table()) == _bits(serial.table())
    sp, dp = percentiles(serial_s), percentiles(dask_s)
    combos = int(serial.combinations)
    return {
        "dataset": dataset,
        "symbols": len(prices),
        "bars": {s: len(f) for s, f in prices.items()}[next(iter(prices))],
        "combinations_per_symbol": combos // len(prices),
        "combinations": combos,
        "chunks": int(serial.chunks),
        "serial_seconds": sp,
        "workers_2_seconds": dp,
        "workers_2_first_sweep_seconds": cold[0],
        "workers_2_combinations_per_s": combos / dp["median"],
        "speedup_2_over_serial": sp["median"] / dp["median"],
        "identical_to_serial": identical,
    }


def bench_overhead(
    *, repeats: int = 3, n_chunks: int = 1000, n_combos: int = THROUGHPUT_COMBOS
) -> dict[str, Any]:
    """Seconds per chunk of ``n_chunks`` trivial chunks through :func:`map_chunks` and
    through ``Client.map`` itself (2 local workers), then :func:`_chunk_costs` of the
    throughput grid of ``n_combos`` pairs."""
    per_chunk, raw = [], []
    with local_workers(2) as dask_client:
        client: Any = dask_client
        _gather(trivial, list(range(50)), {}, "dask")
        for _ in range(repeats):
            start = time.perf_counter()
            _gather(trivial, list(range(n_chunks)), {}, "dask")
            per_chunk.append((time.perf_counter() - start) / n_chunks)
            start = time.perf_counter()
            futures = client.map(trivial, range(n_chunks), pure=False)
            client.gather(futures)
            raw.append((time.perf_counter() - start) / n_chunks)
            del futures
    pc, rw = percentiles(per_chunk), percentiles(raw)
    return {
        "trivial_chunks": n_chunks,
        "map_chunks_seconds_per_chunk": pc,
        "client_map_seconds_per_task": rw,
        "map_chunks_chunks_per_s": 1.0 / pc["median"],
        "client_map_tasks_per_s": 1.0 / rw["median"],
        **_chunk_costs(repeats, n_combos),
    }


def _chunk_costs(repeats: int, n_combos: int = THROUGHPUT_COMBOS) -> dict[str, Any]:
    """Per chunk of the throughput grid of ``n_combos`` pairs (in this process): the compute of
    :func:`core.sweep.chunked.sweep_chunk`, its pickled result, and the coordinator's
    share, the :class:`~core.sweep.chunked.SweepReducer` fold (top-N, heatmap, moments,
    ordered Parquet) plus the :class:`~core.cluster.ChunkCache` write."""
    import tempfile

    from core.backtest.spec import BacktestSpec
    from core.cluster import ChunkCache
    from core.strategies.catalog import grid_constraints
    from core.sweep.chunked import (
        CHUNK_COMBOS,
        SweepReducer,
        chunk_block_bars,
        plan_chunks,
        sweep_chunk,
    )

    prices = {"SP500": reference_prices()}
    fast, slow = ma_windows(n_combos)
    axes = {"fast": fast, "slow": slow}
    total = int(fast.size * slow.size)
    chunks = plan_chunks(total, ["SP500"])
    kwargs: dict[str, Any] = {
        "strategy": "ma_crossover",
        "prices": prices,
        "axes": axes,
        "constraints": grid_constraints("ma_crossover", list(axes)),
        "fixed": {},
        "spec": BacktestSpec(),
        "block_bars": chunk_block_bars(total),
    }
    bars = len(prices["SP500"])
    compute: list[float] = []
    per_pair_bar: list[float] = []
    tables: list[pd.DataFrame] = []
    for _ in range(max(1, repeats)):
        tables = []
        for chunk in chunks:
            start = time.perf_counter()
            tables.append(sweep_chunk(chunk, **kwargs))
            compute.append(time.perf_counter() - start)
            per_pair_bar.append(compute[-1] / max(1, len(tables[-1]) * bars) * 1e9)
    sizes = [len(pickle.dumps(t, protocol=5)) for t in tables]
    pairs = sum(len(t) for t in tables)
    folds, puts = [], []
    for _ in range(max(1, repeats)):
        with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
            reducer = SweepReducer(chunks, axes, "sharpe", table_path=Path(tmp) / "t.parquet")
            cache = ChunkCache(Path(tmp), "bench")
            for i, table in enumerate(tables):
                start = time.perf_counter()
                reducer(i, table)
                folds.append(time.perf_counter() - start)
                start = time.perf_counter()
                cache.put(i, table)
                puts.append(time.perf_counter() - start)
            reducer.close()
            parquet = (Path(tmp) / "t.parquet").stat().st_size
    cp, fp, up = percentiles(compute), percentiles(folds), percentiles(puts)
    coordinator = fp["median"] + up["median"]
    return {
        "sweep_chunk": {
            "raw_combinations": CHUNK_COMBOS,
            "chunks": len(chunks),
            "pairs_per_chunk_mean": pairs / len(chunks),
            "bars": bars,
            "seconds": cp,
            "ns_per_pair_bar": percentiles(per_pair_bar),
            "result_bytes_mean": float(np.mean(sizes)),
            "result_bytes_per_pair": sum(sizes) / pairs,
            "parquet_bytes_per_pair": parquet / pairs,
        },
        "coordinator_per_chunk": {
            "reduce_seconds": fp,
            "cache_put_seconds": up,
            "seconds_median": coordinator,
            "chunks_per_s_ceiling": 1.0 / coordinator,
        },
    }


class _RssSampler:
    """Peak resident memory of a set of processes, sampled every ``interval_s``."""

    def __init__(self, pids: Callable[[], Sequence[int]], interval_s: float = 0.05) -> None:
        self.pids, self.interval_s = pids, interval_s
        self.peak: dict[int, int] = {}
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil  # type: ignore[import-untyped]

        while not self._stop.is_set():
            total = 0
            for pid in self.pids():
                with contextlib.suppress(psutil.Error):
                    rss = int(psutil.Process(pid).memory_info().rss)
                    self.peak[pid] = max(self.peak.get(pid, 0), rss)
                    total += rss
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.interval_s)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def memory_run(n_combos: int = MEMORY_COMBOS) -> dict[str, Any]:
    """The chunked sweep of ``n_combos`` pairs on 2 local workers, its full table written
    to Parquet as the service stores it; peak RSS of this process and of each worker
    (the kernel's high-water mark, ``VmHWM``, and a 50 ms psutil sample of all)."""
    import tempfile

    prices = {"SP500": reference_prices()}
    fast, slow = ma_windows(n_combos)
    with local_workers(2) as client, tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        worker_pids: dict[str, int] = client.run(os.getpid)
        before: dict[str, int] = client.run(_maxrss_kb)
        self_before = _maxrss_kb() / 1024
        with _RssSampler(lambda: [os.getpid(), *worker_pids.values()]) as sampler:
            start = time.perf_counter()
            result = chunked(
                prices, {"fast": fast, "slow": slow}, executor="dask", table_path=Path(tmp) / "t.pq"
            )
            seconds = time.perf_counter() - start
        after: dict[str, int] = client.run(_maxrss_kb)
        table_bytes = (Path(tmp) / "t.pq").stat().st_size
    self_mb = _maxrss_kb() / 1024
    workers_mb = {addr: kb / 1024 for addr, kb in after.items()}
    combos = int(result.combinations)
    return {
        "combinations": combos,
        "bars": len(prices["SP500"]),
        "chunks": int(result.chunks),
        "seconds": seconds,
        "combinations_per_s": combos / seconds,
        "coordinator_peak_rss_mb": self_mb,
        "coordinator_peak_rss_mb_before_sweep": self_before,
        "worker_peak_rss_mb": workers_mb,
        "worker_peak_rss_mb_before_sweep": {a: kb / 1024 for a, kb in before.items()},
        "max_process_peak_rss_mb": max(self_mb, *workers_mb.values()),
        "sampled_peak_total_rss_mb": sampler.peak_total / 2**20,
        "table_parquet_bytes": table_bytes,
        "target_peak_mb": TARGET_PEAK_MB,
    }


def _maxrss_kb() -> int:
    """This process's peak resident memory in KiB: ``VmHWM`` from ``/proc/self/status``
    (``ru_maxrss`` would report the parent's peak in a process started by ``exec``)."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bench_memory(*, n_combos: int = MEMORY_COMBOS) -> dict[str, Any]:
    """:func:`memory_run` in a fresh interpreter (its own LocalCluster)."""
    code = (
        "import json; from core.bench_jobs import memory_run; "
        f"print(json.dumps(memory_run({int(n_combos)})))"
    )
    return run_python_json(code, what="1,000,000-combination memory benchmark")


def bench_first_progress(*, repeats: int = 5, polls: tuple[float, ...] = (0.1,)) -> dict[str, Any]:
    """Seconds from ``app.services.jobs.submit`` to the job's first progress record
    (progress > 0 in the database), a ``workbench jobs worker`` already running (with
    its default ``--poll``, as the app starts it, and with each of ``polls``).
    Each submission waits a seeded random 0-1 s after the previous job ended, as a
    user's click would, instead of always landing just after the worker began a fresh
    wait of its poll.

    The job service lives in ``app``, which core never imports: the figure is measured
    in a fresh interpreter that runs :data:`_FIRST_PROGRESS` with ``python -c``.
    """
    code = _FIRST_PROGRESS.replace("REPEATS", str(int(repeats))).replace(
        "POLLS", repr((None, *polls))
    )
    try:
        report = run_python_json(code, timeout=900, what="first-progress benchmark")
    except RuntimeError as exc:
        return {"skipped": str(exc)[-800:]}
    default = report["default_poll"]
    return {
        "seconds": default,
        "by_worker_poll": report,
        "target_seconds": TARGET_FIRST_PROGRESS_S,
        "ratio_to_target": default["median"] / TARGET_FIRST_PROGRESS_S,
    }


_FIRST_PROGRESS = """
import json, os, random, subprocess, sys, tempfile, time
from pathlib import Path
rng = random.Random(0)
var = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
os.environ["WORKBENCH_VAR_DIR"] = str(var)
os.environ["WORKBENCH_JOBS_AUTOSTART"] = "0"
os.environ.pop("WORKBENCH_DB_URL", None)
from app.operations import get
from app.services import jobs
from app.services.auth import LOCAL
from app.services.jobs_supervisor import live_workers
from core.benchkit import percentiles
request = get("sweep").request(grid={"fast": {"start": 5, "stop": 103, "step": 2},
                                     "slow": {"start": 20, "stop": 412, "step": 8}})
report = {}
for poll in POLLS:  # None: the worker's default, the one the app starts
    log = open(var / f"worker-{poll}.log", "wb")
    flags = [] if poll is None else ["--poll", str(poll)]
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "jobs", "worker", "--name", f"bench-{poll}", *flags],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not live_workers():
            time.sleep(0.05)
        jobs.wait_job(jobs.submit("sweep", request, actor=LOCAL), timeout_s=300)  # warm
        samples = []
        for _ in range(REPEATS):
            time.sleep(rng.uniform(0, 1.0))  # at a random phase of the worker's poll
            t0 = time.perf_counter()
            job_id = jobs.submit("sweep", request, actor=LOCAL)
            while True:
                view = jobs.get_job(job_id)
                if view.progress > 0 or view.finished:
                    break
                time.sleep(0.005)
            samples.append(time.perf_counter() - t0)
            done = jobs.wait_job(job_id, timeout_s=300)
            assert done.status == "done", (done.status, done.error)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
    report["default_poll" if poll is None else f"poll_{poll:g}s"] = {
        **percentiles(samples), "max": max(samples)}
print(json.dumps(report))
"""


def bench_jobs(
    *,
    repeats: int = 3,
    throughput_combos: int = THROUGHPUT_COMBOS,
    memory_combos: int = MEMORY_COMBOS,
    overhead_chunks: int = 1000,
    universe_dataset: str = UNIVERSE_DATASET,
    first_progress: bool = True,
) -> dict[str, Any]:
    """Every scale-out figure of issue 12 (see the module docstring); the sizes are
    parameters only so that a smoke test can run them small."""
    return {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_1min": os.getloadavg()[0],
        },
        "throughput": bench_throughput(repeats=repeats, n_combos=throughput_combos),
        "universe": bench_universe(repeats=repeats, dataset=universe_dataset),
        "overhead": bench_overhead(
            repeats=repeats, n_chunks=overhead_chunks, n_combos=throughput_combos
        ),
        "memory_1m": bench_memory(n_combos=memory_combos),
        "first_progress": (
            bench_first_progress(repeats=max(5, repeats))
            if first_progress
            else {"skipped": "not asked for"}
        ),
    }


def summary(report: Mapping[str, Any]) -> str:
    """One digest line of :func:`bench_jobs`."""
    t, u, o, m = (report[k] for k in ("throughput", "universe", "overhead", "memory_1m"))
    f = report["first_progress"]
    first = (
        f"first progress {f['seconds']['median']:.2f} s (target < {f['target_seconds']:g} s)"
        if "seconds" in f
        else "first progress: skipped"
    )
    return (
        f"jobs: {t['combinations']:,} combos {t['workers_1']['combinations_per_s']['median']:,.0f}"
        f" -> {t['workers_2']['combinations_per_s']['median']:,.0f} combos/s on 1 -> 2 workers "
        f"({t['speedup_2_over_1']:.2f}x, target >= {t['target_speedup']:g}x); universe "
        f"{u['symbols']} x {u['combinations_per_symbol']:,} in "
        f"{u['workers_2_seconds']['median']:.2f} s; 1M combos peak "
        f"{m['max_process_peak_rss_mb']:.0f} MB/process (target <= {m['target_peak_mb']:.0f}); "
        f"{o['map_chunks_seconds_per_chunk']['median'] * 1e3:.2f} ms/chunk overhead; {first}"
    )


__all__ = [
    "MEMORY_COMBOS",
    "TARGET_FIRST_PROGRESS_S",
    "TARGET_PEAK_MB",
    "TARGET_SPEEDUP",
    "THROUGHPUT_COMBOS",
    "bench_jobs",
    "chunked",
    "fast_slices",
    "ma_windows",
    "memory_run",
    "summary",
    "sweep_slice",
    "trivial",
]
