"""core.cluster against a real multi-process cluster on 127.0.0.1 (issue 12 §3).

A ``dask scheduler`` and two ``dask worker`` processes started from the venv's CLI
(:mod:`tests.fakes.dask_cluster`), reached through ``WORKBENCH_DASK_SCHEDULER`` exactly as
a deployment would: results equal to serial to the last bit, a worker killed with
SIGKILL mid-map, cancellation, and the fixture's own guarantees (tasks run in other
processes that import ``core``; nothing outlives a failing test).
"""

# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.dask_cluster are test parameters)

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.bench_jobs import block_bars_of, fast_slices, ma_windows, sweep_slice
from core.benchkit import reference_prices
from core.cluster import close_client, map_chunks
from core.sweep import METRICS, sweep_ma_crossover
from tests.fakes.dask_cluster import (
    DaskProcessCluster,
    dask_process_cluster,
    dask_processes,  # noqa: F401
    executing,
    gated_sweep,
)

pytestmark = pytest.mark.timeout(240)

COLUMNS = ("fast", "slow", *METRICS)


class Stop(Exception):
    """What the test's ``check()`` raises to cancel a map."""


@pytest.fixture
def external(
    dask_processes: DaskProcessCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DaskProcessCluster]:
    """``WORKBENCH_DASK_SCHEDULER`` pointed at the process cluster; a fresh process-wide
    client before and after."""
    close_client()
    monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", dask_processes.address)
    try:
        yield dask_processes
    finally:
        close_client()


@pytest.fixture(scope="module")
def workload() -> dict[str, Any]:
    """About 3,000 pairs on the S&P 500 reference series, in 12 grid slices, and the
    unchunked sweep's table (the serial reference)."""
    prices = reference_prices()
    fast, slow = ma_windows(3000)
    whole = sweep_ma_crossover(prices, fast, slow).table
    return {
        "chunks": fast_slices(fast, slow, 12),
        "shared": {"prices": prices, "slow": slow, "block_bars": block_bars_of(len(whole))},
        "reference": {k: whole[k].to_numpy() for k in COLUMNS},
    }


def _bits(columns: dict[str, np.ndarray]) -> dict[str, tuple[str, bytes]]:
    return {k: (v.dtype.str, v.tobytes()) for k, v in columns.items()}


def _collect(n: int) -> tuple[list[Any], Any]:
    out: list[Any] = [None] * n

    def reduce(i: int, result: Any) -> None:
        assert out[i] is None, f"chunk {i} reduced twice"
        out[i] = result

    return out, reduce


def _concat(parts: list[Any]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in COLUMNS}


def _started(marks: Path) -> list[tuple[int, int]]:
    """(chunk index, worker pid) of every chunk start :func:`gated_sweep` recorded."""
    return [(int(p.name.split("-")[1]), int(p.name.split("-")[2])) for p in marks.iterdir()]


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(predicate: Any, timeout_s: float, what: str) -> float:
    """Poll ``predicate`` until true; seconds it took (raises after ``timeout_s``)."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.01)
    return time.monotonic() - start


def test_the_fixture_runs_tasks_in_two_worker_processes_that_import_core(
    dask_processes: DaskProcessCluster,
) -> None:
    pids = dask_processes.worker_pids()
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()
    with dask_processes.client() as client:
        where = client.gather(
            client.map(lambda _: (os.getpid(), __import__("core").__file__), range(8), pure=False)
        )
    assert {pid for pid, _ in where} <= set(pids.values())
    assert {Path(path).parent.parent for _, path in where} == {Path(__file__).parents[2]}


def test_the_fixture_leaves_no_process_behind_when_the_test_fails(tmp_path: Path) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="planted failure"):
        with dask_process_cluster(tmp_path) as cluster:
            pids = cluster.pids()
            assert len(pids) >= 5  # scheduler, two nannies, two worker processes
            raise RuntimeError("planted failure")
    assert [pid for pid in pids if _alive(pid)] == []


def test_a_map_on_the_external_scheduler_equals_the_serial_sweep_to_the_last_bit(
    external: DaskProcessCluster, workload: dict[str, Any]
) -> None:
    chunks, shared = workload["chunks"], workload["shared"]
    results = {}
    for executor in ("dask", "serial"):
        out, reduce = _collect(len(chunks))
        map_chunks(sweep_slice, chunks, shared=shared, reduce=reduce, executor=executor)
        results[executor] = _concat(out)
    assert _bits(results["dask"]) == _bits(workload["reference"])
    assert _bits(results["serial"]) == _bits(workload["reference"])


def test_a_worker_killed_with_sigkill_mid_map_the_map_completes_with_identical_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workload: dict[str, Any]
) -> None:
    """Chunk 0 runs freely; the others wait at a gate. Once chunk 0 is reduced and both
    workers hold a gated chunk, one worker process is killed with SIGKILL, then the gate
    opens: the scheduler reschedules the lost chunk (the nanny restarts the worker) and
    the map ends with every chunk reduced once and the serial bits."""
    marks, gate = tmp_path / "marks", tmp_path / "gate"
    marks.mkdir()
    chunks = list(enumerate(workload["chunks"]))
    shared = {**workload["shared"], "gate": str(gate), "marks": str(marks), "ungated": 1}
    with dask_process_cluster(tmp_path / "cluster") as cluster:
        close_client()
        monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", cluster.address)
        pids = cluster.worker_pids()
        killed: list[int] = []
        out, collect = _collect(len(chunks))

        def reduce(i: int, result: Any) -> None:
            collect(i, result)
            if killed:
                return

            def gated_pids() -> set[int]:
                return {pid for index, pid in _started(marks) if index > 0}

            _wait_until(lambda: gated_pids() >= set(pids.values()), 60, "both workers gated")
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            _wait_until(lambda: not _alive(victim), 10, "the killed worker gone")
            gate.touch()

        try:
            map_chunks(gated_sweep, chunks, shared=shared, reduce=reduce)
        finally:
            close_client()
        assert killed and not _alive(killed[0])
        starts = _started(marks)
        lost = {index for index, pid in starts if pid == killed[0] and index > 0}
        elsewhere = {index for index, pid in starts if pid != killed[0]}
        assert lost, "the killed worker held no chunk"
        assert lost <= elsewhere, "a chunk lost with the worker never ran again elsewhere"
    assert _bits(_concat(out)) == _bits(workload["reference"])


def _cancel_scenario(
    cluster: DaskProcessCluster,
    tmp_path: Path,
    workload: dict[str, Any],
    *,
    stop_arg: str | None = None,
) -> dict[str, Any]:
    """Gated chunks that never open (each would take 60 s); ``check()`` starts raising
    once both workers are running one. Returns what the test asserts on."""
    marks, gate = tmp_path / "marks", tmp_path / "gate"
    marks.mkdir()
    chunks = list(enumerate(workload["chunks"]))
    shared = {**workload["shared"], "gate": str(gate), "marks": str(marks), "ungated": 0}
    state: dict[str, Any] = {"reduced": 0, "cancel_at": None}

    def reduce(i: int, result: Any) -> None:
        state["reduced"] += 1

    def check() -> None:
        if state["cancel_at"] is None and len(list(marks.glob("started-*"))) >= 2:
            state["cancel_at"] = time.monotonic()
        if state["cancel_at"] is not None:
            raise Stop("cancelled by the test")

    with pytest.raises(Stop):
        map_chunks(
            gated_sweep, chunks, shared=shared, reduce=reduce, check=check, stop_arg=stop_arg
        )
    state["raised_after_s"] = time.monotonic() - state["cancel_at"]
    state["scheduler_idle_after_s"] = state["raised_after_s"] + _wait_until(
        lambda: cluster.processing() == 0, 30, "no task processing on the scheduler"
    )
    with cluster.client() as client:

        def busy() -> int:
            return int(sum(client.run(executing).values()))

        try:  # the work stopped: no worker thread still runs a chunk, 2 s after the cancel
            while busy() and time.monotonic() - state["cancel_at"] < 2.0:
                time.sleep(0.01)
            state["workers_busy_2s_after_cancel"] = busy()
        finally:
            gate.touch()  # let any chunk still running end, for the next test
            _wait_until(lambda: busy() == 0, 90, "workers idle")
    state["started"] = len(list(marks.glob("started-*")))
    return state


def test_cancellation_cancels_the_futures_within_2_s_instead_of_waiting_for_them(
    external: DaskProcessCluster, tmp_path: Path, workload: dict[str, Any]
) -> None:
    state = _cancel_scenario(external, tmp_path, workload)
    assert state["raised_after_s"] < 2.0, state
    assert state["scheduler_idle_after_s"] < 2.0, state
    assert state["reduced"] == 0
    assert state["started"] == 2, "chunks kept being started after the cancel"
    # without a stop probe both worker threads are still inside their 60 s chunks: the
    # contrast that makes the stop-probe test below mean something
    assert state["workers_busy_2s_after_cancel"] == 2, state


def test_cancellation_frees_the_workers_within_2_s_when_the_chunks_take_the_stop_probe(
    external: DaskProcessCluster, tmp_path: Path, workload: dict[str, Any]
) -> None:
    """With ``stop_arg``, a chunk already running on a worker ends at its next look at the
    run's stop flag: no worker thread is still busy 2 s after the cancel (without it the
    thread would run its 60 s chunk to the end; Dask cannot interrupt a thread)."""
    state = _cancel_scenario(external, tmp_path, workload, stop_arg="stop")
    assert state["raised_after_s"] < 2.0, state
    assert state["workers_busy_2s_after_cancel"] == 0, state
    assert state["reduced"] == 0


def test_the_jobs_bench_reports_every_figure_on_a_tiny_workload() -> None:
    """Smoke test of ``workbench bench --only jobs`` (keys and invariants, no timings)."""
    from core.bench import summary_text
    from core.bench_jobs import bench_jobs

    report = bench_jobs(
        repeats=1,
        throughput_combos=2000,
        memory_combos=3000,
        overhead_chunks=20,
        universe_dataset="synthetic",
        first_progress=False,
    )
    assert set(report) == {
        "machine",
        "throughput",
        "universe",
        "overhead",
        "memory_1m",
        "first_progress",
    }
    t, u, m = report["throughput"], report["universe"], report["memory_1m"]
    assert t["combinations"] >= 2000 and t["identical_to_serial"] is True
    assert {"workers_1", "workers_2", "speedup_2_over_1", "target_speedup"} <= set(t)
    assert u["symbols"] == 5 and u["combinations"] == 5 * 2258 and u["identical_to_serial"]
    assert m["combinations"] >= 3000 and len(m["worker_peak_rss_mb"]) == 2
    assert m["max_process_peak_rss_mb"] >= m["coordinator_peak_rss_mb"] > 0
    # the chunk costs of the throughput grid: 2 <= fast < slow <= 65 is 2,016 pairs in one
    # chunk, each pair a row of 13 eight-byte numbers (fast, slow and the metrics) in the
    # pickled table, plus the frame's own few KiB
    fast, slow = ma_windows(2000)
    pairs = sum(int((slow > f).sum()) for f in fast)
    overhead = report["overhead"]
    chunk, coordinator = overhead["sweep_chunk"], overhead["coordinator_per_chunk"]
    assert pairs == 2016 and (chunk["chunks"], chunk["pairs_per_chunk_mean"]) == (1, pairs)
    assert overhead["trivial_chunks"] == 20 and chunk["bars"] == 5031
    row = 8 * len(COLUMNS)
    assert pairs * row < chunk["result_bytes_mean"] <= pairs * row + 4096, chunk
    assert chunk["result_bytes_per_pair"] == pytest.approx(chunk["result_bytes_mean"] / pairs)
    assert 0 < chunk["parquet_bytes_per_pair"] < chunk["result_bytes_per_pair"]  # compressed
    reduce_s, put_s = coordinator["reduce_seconds"], coordinator["cache_put_seconds"]
    assert (reduce_s["n"], put_s["n"]) == (1, 1)
    assert coordinator["seconds_median"] == reduce_s["median"] + put_s["median"] > 0
    assert coordinator["chunks_per_s_ceiling"] == pytest.approx(1 / coordinator["seconds_median"])
    assert "jobs: " in summary_text({"jobs": report})


def test_a_chunked_universe_sweep_on_the_external_scheduler_equals_serial_to_the_last_bit(
    external: DaskProcessCluster, tmp_path: Path
) -> None:
    """The service's code path (:func:`core.sweep.chunked.sweep_chunked`): three symbols
    x 11,325 pairs (22,500 raw) in 6 chunks (a full one and a partial one a symbol: the
    time block of a full chunk, 600 bars), on the two worker processes and in this
    process, and each symbol against the unchunked :func:`core.sweep.sweep` with the same
    time block. The last 1,500 bars of each symbol: three time blocks, the last one short."""
    from core.data.loaders import embedded_sources
    from core.strategies.catalog import grid_constraints
    from core.sweep import sweep
    from core.sweep.chunked import sweep_chunked

    source = embedded_sources()["ohlcv_daily"]
    prices = {s: source.load(s).iloc[-1500:] for s in ("AAPL", "GOOG", "SP500")}
    grid = {"fast": np.arange(2, 152), "slow": np.arange(3, 153)}  # 20,000 + 2,500 raw
    rules = grid_constraints("ma_crossover", list(grid))
    tables = {}
    for executor in ("dask", "serial"):
        result = sweep_chunked(
            "ma_crossover", prices, grid, rules, executor=executor,
            table_path=tmp_path / f"{executor}.parquet",
        )  # fmt: skip
        assert (result.chunks, result.combinations, result.block_bars) == (6, 3 * 11_325, 600)
        tables[executor] = result.table()
    dask_t, serial_t = tables["dask"], tables["serial"]
    assert list(dask_t.columns) == list(serial_t.columns)
    for name in serial_t.columns:
        a, b = dask_t[name].to_numpy(), serial_t[name].to_numpy()
        assert str(dask_t[name].dtype) == str(serial_t[name].dtype), name
        same = a.tolist() == b.tolist() if a.dtype.kind == "O" else a.tobytes() == b.tobytes()
        assert same, name
    for symbol, frame in prices.items():
        whole = sweep("ma_crossover", frame, grid, rules, block_bars=result.block_bars).table
        mine = serial_t[serial_t["symbol"] == symbol].reset_index(drop=True)
        for name in whole.columns:
            assert whole[name].to_numpy().tobytes() == mine[name].to_numpy().tobytes(), (
                symbol,
                name,
            )
