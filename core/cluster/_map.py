"""Fan a function out over chunks on Dask (or in order in this process) and reduce the
results as they arrive."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from core.cluster._cache import ChunkCache

POLL_S = 0.1
"""Longest wait between two ``check()`` calls while no chunk completes."""
RETRIES = 2
"""Re-runs of a chunk whose task raised (Dask's ``retries=``); a chunk whose worker died
is rescheduled by the scheduler up to ``distributed.scheduler.allowed-failures`` times."""
WATCH_S = 5.0
"""Seconds between two looks at the scheduler's worker count while no chunk completes."""
NO_WORKER_TIMEOUT_S = 120.0
"""Seconds with no worker connected to the scheduler before :func:`map_chunks` gives up."""


LOST_DATA_RETRIES = 3
"""Times a chunk is resubmitted after the worker holding its keyed data died (the data
is scattered again; see ``keyed`` in :func:`map_chunks`)."""
INLINE_BYTES = 1 << 20
"""Largest pickled size of a task's shared or keyed values passed inside the task
itself instead of scattered: a task without scattered dependencies waits in the
scheduler's queue for a free worker (a root-ish task) instead of being assigned at
submission to the worker holding its data and then moved by work stealing."""
STOP_POLL_S = 0.2
"""Longest interval between two looks of a running chunk at its run's stop flag."""


class WorkerDiedError(RuntimeError):
    """Dask workers kept dying while running a chunk (the scheduler's ``KilledWorker``)."""


class ChunkStopped(Exception):
    """Raised inside a running chunk whose run was stopped (its result is discarded)."""


class StopProbe:
    """``probe()`` raises :class:`ChunkStopped` once the run it belongs to is stopped.

    Handed to a chunk function on Dask: it looks at a ``distributed.Event`` named after
    the run, at most every :data:`STOP_POLL_S` seconds (cheap to call in an inner loop),
    so a cancelled run frees its workers within a fraction of a second instead of when
    their chunks end."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._next = 0.0

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "_next": 0.0}

    def __call__(self) -> None:
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + STOP_POLL_S
        from distributed import Event

        if Event(self.name).is_set():  # type: ignore[no-untyped-call]
            raise ChunkStopped(f"run {self.name} was stopped")


def _name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def map_chunks(
    fn: Callable[..., Any],
    chunks: Sequence[Any],
    *,
    shared: Mapping[str, Any] | None = None,
    cache: ChunkCache | None = None,
    reduce: Callable[[int, Any], None],
    progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
    executor: str = "dask",
    describe: Callable[[int, int], str] | None = None,
    stop_arg: str | None = None,
    keyed: Mapping[str, Mapping[Any, Any]] | None = None,
    chunk_key: Callable[[Any], Hashable] | None = None,
    inline_bytes: int = INLINE_BYTES,
) -> None:
    """Run ``fn(chunk, **shared, **{name: keyed[name][chunk_key(chunk)]})`` for every
    chunk and pass each result to ``reduce(index, result)``.

    Parameters
    ----------
    fn : callable
        A top-level function importable on the workers (pickled by reference).
    chunks : sequence
        Small picklable descriptions of the work (e.g. index ranges).
    shared : mapping, optional
        Keyword arguments every chunk needs (prices, specs); scattered once to every
        worker (``broadcast=True``), not sent with each task.
    cache : ChunkCache, optional
        Chunks stored there are reduced from the cache and not recomputed; each new
        result is stored as soon as it arrives (a killed job resumes from there).
    reduce : callable
        ``reduce(index, result)``, called in this process, in completion order on Dask
        and in index order in serial; cached chunks first, in index order.
    progress : callable, optional
        ``progress(fraction of chunks done, message)`` after every chunk.
    check : callable, optional
        Called between completions and at least every :data:`POLL_S` seconds while
        waiting; whatever it raises (e.g. ``Cancelled``) cancels every pending task and
        propagates.
    executor : {"dask", "serial"}
        ``"dask"``: the process-wide :func:`core.cluster.get_client`; ``"serial"``: in this
        process, in order (the reference).
    describe : callable, optional
        ``describe(done, total)`` -> progress message (default ``"12 of 50 chunks"``).
    stop_arg : str, optional
        A keyword of ``fn`` that receives a stop probe, a callable to call often inside
        a long chunk: in serial it is ``check``; on Dask a :class:`StopProbe` that raises
        :class:`ChunkStopped` once this run was stopped, so running chunks end early.
    keyed : mapping of str to mapping, optional
        Keyword arguments that differ between groups of chunks (e.g. each symbol's
        prices): chunk ``c`` receives ``keyed[name][chunk_key(c)]`` as ``name``. On Dask
        each value a pending chunk needs is scattered once, on its own (not broadcast),
        so a task depends only on its group's value and a worker fetches only the values
        of the chunks it runs. A value lost with the only worker holding it is scattered
        again and its chunks resubmitted (up to :data:`LOST_DATA_RETRIES` times each).
    chunk_key : callable, optional
        The group of a chunk (called in this process); required with ``keyed``.
    inline_bytes : int
        On Dask, ``shared`` (all of it) and each keyed value whose pickle is at most
        this size go inside every task that needs them instead of being scattered
        (see :data:`INLINE_BYTES`); 0 scatters everything.

    Raises
    ------
    WorkerDiedError
        A chunk's workers died ``allowed-failures + 1`` times (a plain sentence naming
        the chunk), or no worker was connected for :data:`NO_WORKER_TIMEOUT_S`.
    """
    if executor not in ("dask", "serial"):
        raise ValueError(f"executor must be 'dask' or 'serial', not {executor!r}")
    if keyed and chunk_key is None:
        raise ValueError("keyed= needs chunk_key= (the group of each chunk)")
    total = len(chunks)
    kwargs = dict(shared or {})
    groups = {name: dict(values) for name, values in (keyed or {}).items()}
    say = describe or (lambda done, n: f"{done:,} of {n:,} chunks")
    done = 0

    def finished(index: int, result: Any, *, store: bool) -> None:
        nonlocal done
        if store and cache is not None:
            cache.put(index, result)
        reduce(index, result)
        done += 1
        if progress is not None:
            progress(done / total if total else 1.0, say(done, total))

    missing: list[int] = []
    for index in range(total):
        cached = cache.get(index) if cache is not None else None
        if cached is None:
            missing.append(index)
            continue
        if check is not None:
            check()
        finished(index, cached, store=False)
    if not missing:
        return
    if executor == "serial":
        if stop_arg is not None:
            kwargs[stop_arg] = check or _never
        for index in missing:
            if check is not None:
                check()
            own = _own(groups, chunk_key, chunks[index])
            finished(index, fn(chunks[index], **kwargs, **own), store=True)
        return
    _run_dask(
        fn, chunks, missing, kwargs, finished, check, stop_arg, groups, chunk_key, inline_bytes
    )


def _own(
    groups: Mapping[str, Mapping[Any, Any]],
    chunk_key: Callable[[Any], Hashable] | None,
    chunk: Any,
) -> dict[str, Any]:
    """The keyed arguments of one chunk: ``{name: groups[name][chunk_key(chunk)]}``."""
    if not groups or chunk_key is None:
        return {}
    key = chunk_key(chunk)
    return {name: values[key] for name, values in groups.items()}


def _never() -> None:
    """The stop probe of a run that cannot be stopped."""


def _run_dask(
    fn: Callable[..., Any],
    chunks: Sequence[Any],
    missing: list[int],
    kwargs: dict[str, Any],
    finished: Callable[..., None],
    check: Callable[[], None] | None,
    stop_arg: str | None,
    groups: Mapping[str, Mapping[Any, Any]],
    chunk_key: Callable[[Any], Hashable] | None,
    inline_bytes: int,
) -> None:
    from distributed import Future
    from distributed.scheduler import KilledWorker

    from core.cluster._client import get_client

    client: Any = get_client()
    names = [] if _fits(kwargs, inline_bytes) else list(kwargs)
    # a list gets unique keys (a dict's keys would name the data, shared by every run)
    values = client.scatter([kwargs[n] for n in names], broadcast=True, hash=False) if names else []
    scattered = {**kwargs, **dict(zip(names, values, strict=True))}
    # each keyed value once, on its own (not broadcast): a task depends on its group's only
    wanted = dict.fromkeys(chunk_key(chunks[i]) for i in missing) if chunk_key else {}
    own_futures: dict[str, dict[Any, Any]] = {n: {} for n in groups}
    needed = []
    for n, k in ((n, k) for n in groups for k in wanted):
        if _fits(groups[n][k], inline_bytes):
            own_futures[n][k] = groups[n][k]  # small: inside each of its tasks
        else:
            needed.append((n, k))
    own_values = client.scatter([groups[n][k] for n, k in needed], hash=False) if needed else []
    for (n, k), future in zip(needed, own_values, strict=True):
        own_futures[n][k] = future
    values = [*values, *own_values]
    run = uuid.uuid4().hex[:12]
    name = getattr(fn, "__name__", "chunk")
    stop_name = f"stop-{name}-{run}"
    if stop_arg is not None:
        scattered[stop_arg] = StopProbe(stop_name)
    arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()
    futures = {}
    rescattered = dict.fromkeys(missing, 0)

    def submit(index: int) -> None:
        again = rescattered[index]
        future = client.submit(
            fn,
            chunks[index],
            key=f"{name}-{run}-{index}" + (f"-r{again}" if again else ""),
            pure=False,
            retries=RETRIES,
            **scattered,
            **_own(own_futures, chunk_key, chunks[index]),
        )
        futures[future.key] = (index, future)
        future.add_done_callback(arrived.put)

    def scatter_lost(index: int) -> None:
        """Scatter again the keyed values of chunk ``index`` whose only holder died
        (the scheduler forgets lost data and cancels the tasks that need it)."""
        if chunk_key is None:
            return
        group = chunk_key(chunks[index])
        held = {n: own_futures[n][group] for n in groups}
        lost = [n for n, f in held.items() if isinstance(f, Future) and f.status != "finished"]
        if lost:
            again = client.scatter([groups[n][group] for n in lost], hash=False)
            for n, future in zip(lost, again, strict=True):
                own_futures[n][group] = future
            values.extend(again)

    try:
        for index in missing:
            submit(index)
        idle_since: float | None = None
        watched = time.monotonic()
        pending = len(futures)
        while pending:
            if check is not None:
                check()
            try:
                future = arrived.get(timeout=POLL_S)
            except queue.Empty:
                if time.monotonic() - watched > WATCH_S:
                    idle_since, watched = _watch_workers(client, idle_since), time.monotonic()
                continue
            index, _ = futures.pop(future.key)
            pending -= 1
            if future.status == "error":
                exc = future.exception(timeout=30)
                if isinstance(exc, KilledWorker):
                    raise WorkerDiedError(
                        f"a Dask worker died {exc.allowed_failures + 1} times running chunk "
                        f"{index} of {len(chunks)} ({_name(fn)}); the job stops here — see "
                        "the worker logs (out of memory? killed?) and retry"
                    ) from None
                raise exc
            if future.status == "cancelled":
                if groups and rescattered[index] < LOST_DATA_RETRIES:
                    # its keyed data died with the worker holding it: scatter, run again
                    scatter_lost(index)
                    rescattered[index] += 1
                    submit(index)
                    pending += 1
                    continue
                raise RuntimeError(
                    f"chunk {index} of {len(chunks)} ({_name(fn)}) was cancelled on the "
                    "Dask scheduler (restarted or shut down?)"
                )
            result = future.result(timeout=60)
            future.release()
            finished(index, result, store=True)
    finally:
        left = [f for _, f in futures.values()]
        if left:
            if stop_arg is not None:  # running chunks see it within STOP_POLL_S
                from distributed import Event

                Event(stop_name, client=client).set()  # type: ignore[no-untyped-call]
            client.cancel(left, force=True)
        if values:
            client.cancel(values, force=True)


def _fits(value: Any, limit: int) -> bool:
    """Whether ``value`` pickles (as Dask does, with cloudpickle) to at most ``limit``
    bytes (0: never; a value whose in-memory size is far larger is not pickled)."""
    import cloudpickle  # type: ignore[import-untyped]  # a dependency of distributed
    from dask.sizeof import sizeof

    if limit <= 0 or sizeof(value) > 4 * limit:
        return False
    try:
        return len(cloudpickle.dumps(value, protocol=5)) <= limit
    except Exception:  # unpicklable here: let Dask's scatter say why
        return False


def _watch_workers(client: Any, idle_since: float | None) -> float | None:
    """Raise when no worker has been connected for :data:`NO_WORKER_TIMEOUT_S`."""
    now = time.monotonic()
    if client.scheduler_info(n_workers=-1).get("workers"):
        return None
    if idle_since is None:
        return now
    if now - idle_since > NO_WORKER_TIMEOUT_S:
        raise WorkerDiedError(
            f"no Dask worker has been connected to the scheduler for "
            f"{NO_WORKER_TIMEOUT_S:.0f} s; start workers (`dask worker ADDRESS`) and retry"
        )
    return idle_since


__all__ = [
    "INLINE_BYTES",
    "LOST_DATA_RETRIES",
    "NO_WORKER_TIMEOUT_S",
    "POLL_S",
    "RETRIES",
    "STOP_POLL_S",
    "ChunkStopped",
    "StopProbe",
    "WorkerDiedError",
    "map_chunks",
]
