"""core.cluster: map_chunks on a real 2-worker LocalCluster against the serial reference,
cancellation, the chunk cache, worker deaths (retried, then a plain sentence)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.cluster import ChunkCache, WorkerDiedError, code_version, map_chunks
from tests.fakes import dask_local

ALLOWED_FAILURES = dask_local.ALLOWED_FAILURES
dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)


class Stop(Exception):
    """What a cancelled check() raises in these tests."""


def moments(chunk: tuple[int, int], *, data: np.ndarray) -> np.ndarray:
    """Sum and sum of squares of one slice (a chunk function run on the workers)."""
    lo, hi = chunk
    part = data[lo:hi]
    return np.array([part.sum(), (part**2).sum(), float(os.getpid())])


def counted(chunk: int, *, log: str) -> int:
    """chunk**2, appending the chunk to ``log`` (counts calls across processes)."""
    with open(log, "a") as handle:
        handle.write(f"{chunk}\n")
    return chunk * chunk


def wait_for_release(chunk: int, *, release: str) -> int:
    """Chunk 0 returns at once; the others wait until the ``release`` file exists."""
    import time

    deadline = time.monotonic() + 60
    while chunk and not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    return chunk


def spin_until_stopped(chunk: int, *, stop: Any, marker_dir: str) -> int:
    """Chunk 0 returns at once; the others call ``stop()`` in a loop (for at most 60 s)
    and leave a marker when it raised."""
    import time

    deadline = time.monotonic() + 60
    if chunk:
        (Path(marker_dir) / f"started-{chunk}").touch()
    while chunk and time.monotonic() < deadline:
        try:
            stop()
        except Exception:
            (Path(marker_dir) / f"stopped-{chunk}").touch()
            raise
        time.sleep(0.01)
    return chunk


def die_once(chunk: int, *, marker_dir: str) -> int:
    """Kill the worker process the first time chunk 1 runs; succeed after that."""
    marker = Path(marker_dir) / f"died-{chunk}"
    if chunk == 1 and not marker.exists():
        marker.touch()
        os._exit(1)
    return chunk + 100


def always_die(chunk: int) -> int:
    """Kill the worker process whenever chunk 1 runs."""
    if chunk == 1:
        os._exit(1)
    return chunk


def own_data(chunk: tuple[str, int], *, data: np.ndarray, scale: float) -> dict[str, Any]:
    """What a chunk's task received: the first value of its ``data`` and, on a Dask
    worker, the keys and sizes of the task's dependencies (the scattered values)."""
    out: dict[str, Any] = {"first": float(data[0]) * scale, "deps": {}}
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:  # not on a worker (serial)
        return out
    task = worker.state.tasks[worker.get_current_task()]
    out["deps"] = {str(d.key): int(d.nbytes or 0) for d in task.dependencies}
    return out


def die_once_holding(chunk: int, *, data: np.ndarray, marker_dir: str) -> float:
    """Kill the worker process (which holds ``data``) the first time any chunk runs."""
    marker = Path(marker_dir) / "died"
    if not marker.exists():
        marker.touch()
        os._exit(1)
    return float(data.sum()) + chunk


def _calls(log: Path) -> list[int]:
    return sorted(int(x) for x in log.read_text().split()) if log.exists() else []


def test_dask_results_equal_serial_and_run_on_two_processes(dask_client: Any) -> None:
    data = np.random.default_rng(7).normal(size=10_000)
    chunks = [(lo, lo + 1_000) for lo in range(0, 10_000, 1_000)]
    results: dict[str, dict[int, np.ndarray]] = {"dask": {}, "serial": {}}
    seen: list[tuple[float, str]] = []
    for executor in ("dask", "serial"):
        map_chunks(
            moments,
            chunks,
            shared={"data": data},
            reduce=results[executor].__setitem__,
            progress=lambda f, m: seen.append((f, m)),
            executor=executor,
        )
    assert sorted(results["dask"]) == list(range(10))
    for i, (lo, hi) in enumerate(chunks):
        expected = np.array([data[lo:hi].sum(), (data[lo:hi] ** 2).sum()])
        assert np.array_equal(results["dask"][i][:2], expected)
        assert np.array_equal(results["serial"][i][:2], expected)
    pids = {int(r[2]) for r in results["dask"].values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert {int(r[2]) for r in results["serial"].values()} == {os.getpid()}
    assert seen[9] == (1.0, "10 of 10 chunks") and seen[0] == (0.1, "1 of 10 chunks")


@pytest.mark.parametrize("executor", ["dask", "serial"])
def test_cache_skips_stored_chunks(tmp_path: Path, executor: str, dask_client: Any) -> None:
    cache = ChunkCache(tmp_path / "cache", ChunkCache.make_key("data", {"a": 1}, "v1"))
    log = tmp_path / "calls.log"
    first: dict[int, int] = {}

    def stop_after_three() -> None:
        if len(first) >= 3:
            raise Stop

    with pytest.raises(Stop):
        map_chunks(
            counted,
            list(range(8)),
            shared={"log": str(log)},
            cache=cache,
            reduce=first.__setitem__,
            check=stop_after_three,
            executor="serial",
        )
    assert cache.stored() == sorted(first) and len(first) == 3
    log.unlink()
    second: dict[int, int] = {}
    map_chunks(
        counted,
        list(range(8)),
        shared={"log": str(log)},
        cache=cache,
        reduce=second.__setitem__,
        executor=executor,
    )
    assert second == {i: i * i for i in range(8)}
    assert _calls(log) == sorted(set(range(8)) - set(first))  # only the missing chunks ran
    log.unlink()
    map_chunks(
        counted, list(range(8)), shared={"log": str(log)}, cache=cache, reduce=dict().__setitem__
    )
    assert _calls(log) == []


def test_check_raising_cancels_pending_futures(tmp_path: Path, dask_client: Any) -> None:
    release = tmp_path / "release"
    got: dict[int, int] = {}
    checks = 0

    def check() -> None:
        nonlocal checks
        checks += 1
        if got:
            raise Stop

    with pytest.raises(Stop):
        map_chunks(
            wait_for_release,
            list(range(6)),
            shared={"release": str(release)},
            reduce=got.__setitem__,
            check=check,
        )
    assert got == {0: 0}  # stopped at the first check after the first completion
    release.touch()  # let the tasks already running on the workers return

    def scheduler_tasks(dask_scheduler: Any) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks if "wait_for_release" in str(k)]

    import time

    deadline = time.monotonic() + 30
    while dask_client.run_on_scheduler(scheduler_tasks) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dask_client.run_on_scheduler(scheduler_tasks) == []


def test_running_chunks_see_the_stop_probe_and_free_the_workers(
    tmp_path: Path, dask_client: Any
) -> None:
    import time

    got: dict[int, int] = {}

    def check() -> None:
        if got and any(tmp_path.glob("started-*")):  # a chunk is running: stop the run
            raise Stop

    with pytest.raises(Stop):
        map_chunks(
            spin_until_stopped,
            list(range(6)),
            shared={"marker_dir": str(tmp_path)},
            reduce=got.__setitem__,
            check=check,
            stop_arg="stop",
        )

    def marked(kind: str) -> list[int]:
        return sorted(int(p.name.split("-")[1]) for p in tmp_path.glob(f"{kind}-*"))

    def executing(dask_worker: Any) -> int:
        return len(dask_worker.state.executing)

    deadline = time.monotonic() + 30  # the chunks spin for 60 s unless the probe stops them
    while time.monotonic() < deadline and (
        marked("stopped") != marked("started") or any(dask_client.run(executing).values())
    ):
        time.sleep(0.05)
    assert 1 <= len(marked("started")) <= 2
    assert marked("stopped") == marked("started")  # the running chunks saw the probe
    assert not any(dask_client.run(executing).values())  # and their workers are free


def test_serial_stop_probe_is_check(tmp_path: Path) -> None:
    got: dict[int, int] = {}
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls > 3:
            raise Stop

    with pytest.raises(Stop):
        map_chunks(
            spin_until_stopped,
            [0, 1],
            shared={"marker_dir": str(tmp_path)},
            reduce=got.__setitem__,
            check=check,
            executor="serial",
            stop_arg="stop",
        )
    assert got == {0: 0} and (tmp_path / "stopped-1").exists()


def test_a_chunk_whose_worker_died_once_is_recomputed(tmp_path: Path, dask_client: Any) -> None:
    got: dict[int, int] = {}
    map_chunks(die_once, [0, 1, 2], shared={"marker_dir": str(tmp_path)}, reduce=got.__setitem__)
    assert got == {0: 100, 1: 101, 2: 102}
    assert (tmp_path / "died-1").exists()
    dask_local.ensure_workers(dask_client)


def test_a_chunk_that_keeps_killing_workers_fails_with_a_sentence(dask_client: Any) -> None:
    with pytest.raises(WorkerDiedError) as info:
        map_chunks(always_die, [0, 1, 2], reduce=lambda i, r: None)
    # every chunk kills its worker; which one runs out of retries first is up to the scheduler
    assert re.match(
        rf"a Dask worker died {ALLOWED_FAILURES + 1} times running chunk [123] of 3 "
        r"\(tests\.core\.test_cluster\.always_die\)",
        str(info.value),
    )
    dask_local.ensure_workers(dask_client)


def test_an_error_in_a_chunk_propagates_as_itself(dask_client: Any) -> None:
    with pytest.raises(FileNotFoundError):
        map_chunks(counted, [1, 2], shared={"log": "/nonexistent/dir/x"}, reduce=print)


def test_cache_is_atomic_and_keyed(tmp_path: Path) -> None:
    key = ChunkCache.make_key("h", {"b": [1, 2], "a": "x"}, code_version("core.cluster"))
    assert key == ChunkCache.make_key("h", '{"a": "x", "b": [1, 2]}', code_version("core.cluster"))
    assert key != ChunkCache.make_key("h2", {"b": [1, 2], "a": "x"}, code_version("core.cluster"))
    cache = ChunkCache(tmp_path, key)
    assert cache.get(3) is None and 3 not in cache
    frame = {"x": np.arange(5.0)}
    cache.put(3, frame)
    cache.put(3, frame)  # a second writer of the same chunk
    assert np.array_equal(cache.get(3)["x"], frame["x"]) and 3 in cache
    assert cache.stored() == [3]
    assert not list(cache.folder.glob(".tmp-*"))
    with pytest.raises(ValueError, match="None cannot be cached"):
        cache.put(4, None)
    with pytest.raises(ValueError, match="plain file name"):
        ChunkCache(tmp_path, "../escape")


def test_clear_and_prune_remove_cache_folders(tmp_path: Path) -> None:
    old, new = ChunkCache(tmp_path, "old"), ChunkCache(tmp_path, "new")
    old.put(0, 1)
    new.put(0, 2)
    os.utime(old.folder, (1_000.0, 1_000.0))
    assert ChunkCache.prune(tmp_path, max_age_s=3600, now=os.path.getmtime(new.folder)) == ["old"]
    assert not old.folder.exists() and new.get(0) == 2
    new.clear()
    assert not new.folder.exists() and new.stored() == []


def test_keyed_values_reach_only_their_own_chunks(dask_client: Any) -> None:
    """Each group's array is scattered once on its own (inline_bytes=0: nothing goes
    inside the tasks); a chunk's task depends on the shared value and on its group's
    array only (never on the other groups')."""
    groups = {g: np.full(50_000, float(i + 1)) for i, g in enumerate("ABC")}
    chunks = [(g, k) for g in groups for k in range(3)]
    results: dict[str, dict[int, dict[str, Any]]] = {"dask": {}, "serial": {}}
    for executor in ("dask", "serial"):
        map_chunks(
            own_data,
            chunks,
            shared={"scale": 2.0},
            keyed={"data": groups},
            chunk_key=lambda chunk: chunk[0],
            reduce=results[executor].__setitem__,
            executor=executor,
            inline_bytes=0,
        )
    for executor in ("dask", "serial"):
        firsts = [results[executor][i]["first"] for i in range(len(chunks))]
        assert firsts == [2.0 * (1 + "ABC".index(g)) for g, _ in chunks]
    array_bytes = groups["A"].nbytes
    data_key: dict[str, set[str]] = {g: set() for g in groups}
    for i, (group, _) in enumerate(chunks):
        deps = results["dask"][i]["deps"]
        big = {key for key, size in deps.items() if size >= array_bytes}
        assert len(deps) == 2 and len(big) == 1, deps  # scale + its own array, nothing else
        assert sum(deps.values()) < 2 * array_bytes
        data_key[group] |= big
    assert all(len(keys) == 1 for keys in data_key.values())  # one scatter per group
    assert len(set().union(*data_key.values())) == 3  # a different value per group


def test_small_values_go_inside_the_tasks(dask_client: Any) -> None:
    """Shared and keyed values whose pickle fits in inline_bytes travel inside each task:
    the tasks have no dependency (they wait in the scheduler's queue for a free worker)
    and get the same values as in serial; a keyed value above the limit is scattered."""
    groups = {"small": np.full(1_000, 1.0), "big": np.full(50_000, 2.0)}
    chunks = [(g, k) for g in groups for k in range(3)]
    results: dict[str, dict[int, dict[str, Any]]] = {"dask": {}, "serial": {}}
    for executor in ("dask", "serial"):
        map_chunks(
            own_data,
            chunks,
            shared={"scale": 3.0},
            keyed={"data": groups},
            chunk_key=lambda chunk: chunk[0],
            reduce=results[executor].__setitem__,
            executor=executor,
            inline_bytes=100_000,  # the small array's 8 kB fit, the big one's 400 kB do not
        )
    firsts = {e: [results[e][i]["first"] for i in range(len(chunks))] for e in results}
    assert firsts["dask"] == firsts["serial"] == [3.0] * 3 + [6.0] * 3
    deps = [results["dask"][i]["deps"] for i in range(len(chunks))]
    assert deps[:3] == [{}, {}, {}]  # small array and scale inside the task
    assert all(len(d) == 1 and min(d.values()) >= groups["big"].nbytes for d in deps[3:])


def test_a_keyed_value_lost_with_its_worker_is_scattered_again(
    tmp_path: Path, dask_client: Any
) -> None:
    """The only copy of a keyed value lives on the worker that runs its chunk; that worker
    dies: the scheduler forgets the value and cancels the chunk, map_chunks scatters the
    value again and the chunk completes with the right result."""
    data = {"only": np.arange(1_000, dtype=float)}
    results: dict[int, float] = {}
    map_chunks(
        die_once_holding,
        [0, 1],
        shared={"marker_dir": str(tmp_path)},
        keyed={"data": data},
        chunk_key=lambda chunk: "only",
        reduce=results.__setitem__,
        inline_bytes=0,  # scattered: the only copy dies with its worker
    )
    assert (tmp_path / "died").exists()
    assert results == {0: 499_500.0, 1: 499_501.0}
    dask_local.ensure_workers(dask_client)


def test_keyed_needs_chunk_key() -> None:
    with pytest.raises(ValueError, match="keyed= needs chunk_key="):
        map_chunks(counted, [1], reduce=print, keyed={"log": {1: "x"}}, executor="serial")


def test_unknown_executor_is_refused() -> None:
    with pytest.raises(ValueError, match="executor must be 'dask' or 'serial'"):
        map_chunks(counted, [1], reduce=print, executor="ray")


def test_default_executor_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.cluster import _client, default_executor

    monkeypatch.delenv("WORKBENCH_EXECUTOR", raising=False)
    monkeypatch.delenv("WORKBENCH_DASK_SCHEDULER", raising=False)
    monkeypatch.setattr(_client, "_client", None)  # no cluster started in this process
    assert (default_executor(1), default_executor(7), default_executor(8)) == (
        "serial",
        "serial",
        "dask",
    )
    monkeypatch.setenv("WORKBENCH_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    assert default_executor(1) == "dask"
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    assert default_executor(50) == "serial"
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "ray")
    with pytest.raises(ValueError, match="must be auto, serial or dask"):
        default_executor(2)
