"""The jobs service in one process: submit, run, cancel, fail, retry, wait, roles.

Jobs run through the real worker code (:meth:`JobWorker.run_pending`) on a real SQLite
file; the golden payload of a sweep job is a direct synchronous run of the same request.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from app.operations import CancelToken, Operation, get, register
from app.operations.runs import RunsRequest
from app.operations.sweep import SweepRequest
from app.services import jobs
from app.services.auth import LOCAL, Actor, PermissionDenied
from app.services.db import get_engine
from app.services.jobs_roles import owner_actor
from app.services.jobs_supervisor import HOST, live_workers
from app.services.jobs_support import Throttle, failure_text
from app.services.jobs_worker import ActivityGate, JobWorker
from app.services.sweep import reopen_sweep
from core.config import get_settings
from core.store.db import session_scope
from core.store.jobs import JobRepository, WorkerRepository
from core.sweep import GridAxis

GRID = {"fast": GridAxis.parse("5:20:5"), "slow": GridAxis.parse("30:60:10")}
ANA = Actor("ana", frozenset({"analyst"}))
BOB = Actor("bob", frozenset({"analyst"}))
PAM = Actor("pam", frozenset({"pm"}))


@pytest.fixture(autouse=True)
def db_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "jobs.db"
    monkeypatch.setenv("WORKBENCH_DB_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def _sweep(**changes: Any) -> SweepRequest:
    return SweepRequest(**{"dataset": "ohlcv_daily", "symbol": "SP500", "grid": GRID, **changes})


def _numbers(payload: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the sweep ran (not its time nor its run id)."""
    return {k: v for k, v in payload.items() if k not in ("seconds", "run_id")}


def test_a_submitted_sweep_runs_to_the_payload_of_a_direct_run() -> None:
    request = _sweep()
    job_id = jobs.submit("sweep", request, actor=ANA)
    queued = jobs.get_job(job_id)
    assert (queued.status, queued.owner, queued.kind) == ("queued", "ana", "sweep")
    assert queued.attempt == 0
    assert queued.spec == request.model_dump(mode="json")
    assert jobs.request_of(queued) == request

    assert jobs.run_pending() == 1
    done = jobs.get_job(job_id)
    assert (done.status, done.progress, done.attempt, done.error) == ("done", 1.0, 1, None)
    assert done.finished and done.finished_at is not None and done.started_at is not None
    direct = get("sweep").payload(get("sweep").run(request))
    assert done.result is not None and _numbers(done.result) == _numbers(direct)
    # The result reference reopens the saved sweep without recomputing it.
    reopened = reopen_sweep(done.result["run_id"])
    assert reopened.combinations == direct["combinations"]
    assert jobs.run_pending() == 0


def test_submit_refuses_what_cannot_run_as_a_job() -> None:
    with pytest.raises(ValueError, match="runs is not a long operation"):
        jobs.submit("runs", RunsRequest(), actor=ANA)
    with pytest.raises(ValueError, match="sweep takes a SweepRequest, not a RunsRequest"):
        jobs.submit("sweep", RunsRequest(), actor=ANA)
    with pytest.raises(ValueError, match="no operation 'nope'"):
        jobs.submit("nope", _sweep(), actor=ANA)
    assert jobs.list_jobs() == []


def test_lookups_and_listing_filters() -> None:
    with pytest.raises(LookupError, match="no job 99"):
        jobs.get_job(99)
    first = jobs.submit("sweep", _sweep(), actor=ANA)
    second = jobs.submit("sweep", _sweep(metric="sortino"), actor=BOB)
    assert [j.id for j in jobs.list_jobs()] == [second, first]
    assert [j.id for j in jobs.list_jobs(owner="ana")] == [first]
    assert [j.id for j in jobs.list_jobs(status="queued", limit=1)] == [second]
    assert jobs.list_jobs(kind="train") == []
    with pytest.raises(ValueError, match="status must be one of"):
        jobs.list_jobs(status="later")


def test_cancel_a_queued_job_and_the_role_rule() -> None:
    job_id = jobs.submit("sweep", _sweep(), actor=ANA)
    with pytest.raises(PermissionDenied, match=r"needs its owner \(ana\) or the 'pm' role"):
        jobs.cancel_job(job_id, actor=BOB)
    assert jobs.cancel_job(job_id, actor=PAM) == f"job {job_id} was queued and is now cancelled"
    job = jobs.get_job(job_id)
    assert (job.status, job.message) == ("cancelled", "cancelled by pam")
    with pytest.raises(ValueError, match="only a queued or running job can be cancelled"):
        jobs.cancel_job(job_id, actor=ANA)
    assert jobs.run_pending() == 0


def test_cancel_a_running_job_stops_it_at_its_next_progress_report() -> None:
    job_id = jobs.submit("sweep", _sweep(), actor=ANA)
    seen: list[str] = []

    def observe(jid: int, fraction: float, message: str, token: CancelToken) -> None:
        if seen:
            return
        seen.append(jobs.cancel_job(jid, actor=ANA))  # through the database, as a user would
        deadline = time.monotonic() + 30
        while not token.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)  # the worker's next tick (0.25 s) reads the request

    JobWorker(get_engine(), observe=observe).run_pending()
    job = jobs.get_job(job_id)
    assert seen == [f"job {job_id} is running: its worker was asked to stop (within a second)"]
    assert (job.status, job.result, job.cancel_requested) == ("cancelled", None, True)
    assert job.progress < 1.0


def test_a_failed_job_has_a_plain_error_and_retry_queues_a_copy() -> None:
    job_id = jobs.submit("sweep", _sweep(symbol="NOPE"), actor=ANA)
    jobs.run_pending()
    failed = jobs.get_job(job_id)
    assert failed.status == "failed"
    assert failed.error == (
        "The sweep job failed: dataset 'ohlcv_daily' has no symbol 'NOPE'; choose one of "
        "AAPL, GOOG, IBM, MSFT, NASDAQ, SP500."
    )
    with pytest.raises(PermissionDenied, match="retrying job"):
        jobs.retry_job(job_id, actor=BOB)
    new_id = jobs.retry_job(job_id, actor=ANA)
    retried = jobs.get_job(new_id)
    assert (retried.status, retried.retry_of, retried.owner) == ("queued", job_id, "ana")
    assert retried.spec == failed.spec
    with pytest.raises(ValueError, match="only a failed or cancelled job can be retried"):
        jobs.retry_job(new_id, actor=ANA)


def test_wait_returns_a_finished_job_and_times_out_naming_the_job() -> None:
    job_id = jobs.submit("sweep", _sweep(), actor=LOCAL)
    with pytest.raises(TimeoutError, match=rf"job {job_id} is still queued \(0%\) after 0 s"):
        jobs.wait_job(job_id, timeout_s=0)
    jobs.run_pending()
    assert jobs.wait_job(job_id, timeout_s=0).status == "done"


def test_a_stopped_worker_requeues_its_job_and_the_next_claim_completes_it() -> None:
    job_id = jobs.submit("sweep", _sweep(), actor=ANA)
    worker = JobWorker(get_engine())

    def observe(jid: int, fraction: float, message: str, token: CancelToken) -> None:
        worker.stop()  # what SIGTERM does
        deadline = time.monotonic() + 30
        while not token.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)

    worker.observe = observe
    worker.run_pending(max_jobs=1)
    requeued = jobs.get_job(job_id)
    assert (requeued.status, requeued.attempt, requeued.worker) == ("queued", 1, None)
    assert requeued.message == f"requeued: worker {worker.name} stopped"
    assert jobs.run_pending() == 1
    done = jobs.get_job(job_id)
    assert (done.status, done.attempt) == ("done", 2)


def test_failure_text_is_one_plain_sentence() -> None:
    try:
        SweepRequest(grid={"fast": GridAxis.parse("5:20:5")}, strategy="nope")
    except ValueError as exc:
        text = failure_text("sweep", exc)
    assert text.startswith("The sweep job failed: ") and "Traceback" not in text
    assert text.endswith(".") and "\n" not in text
    odd = failure_text("train", ZeroDivisionError("division by zero\n  at line 3"))
    assert odd == (
        "The train job failed: unexpected ZeroDivisionError (division by zero); "
        "the worker log has the details."
    )


def test_the_owner_actor_in_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert owner_actor("local") == LOCAL
    monkeypatch.setenv("WORKBENCH_USER", "ana")
    monkeypatch.setenv("WORKBENCH_ROLES", "analyst,pm")
    assert owner_actor("ana") == Actor("ana", frozenset({"analyst", "pm"}))
    assert owner_actor("zed") == Actor("zed", frozenset({"analyst"}))  # no self-declared roles


T0 = datetime(2026, 1, 5, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.01, 2.0), st.floats(0.0, 1.0), st.sampled_from(["a", "b"])),
        max_size=60,
    )
)
def test_the_progress_throttle(events: list[tuple[float, float, str]]) -> None:
    """Writes at most every 0.25 s (bar lease renewals); a move of more than 1% or a new
    message, once 0.25 s have passed, is written; the lease is renewed every 10 s."""
    throttle, now, writes = Throttle(), T0, [T0]
    throttle.wrote(0.0, "a", T0)
    for step, fraction, message in events:
        now += timedelta(seconds=step)
        moved = abs(fraction - throttle.fraction) > 0.01 or message != throttle.message
        since = (now - writes[-1]).total_seconds()
        due = throttle.due(fraction, message, now)
        assert due == (since >= 10.0 or (since >= 0.25 and moved))
        if due:
            throttle.wrote(fraction, message, now)
            writes.append(now)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(writes)]
    assert all(g >= 0.25 for g in gaps)


# -- an operation that ignores its cancellation: the worker's grace ----------------------------


class NapRequest(BaseModel):
    """The request of the test-only operation below."""

    label: str = "nap"


RELEASE = threading.Event()
"""What alone ends :func:`ignore_cancel` (the test sets it when it is done)."""


def ignore_cancel(*, request: NapRequest, progress: Any, cancel: CancelToken) -> dict[str, str]:
    """A long operation that reports once, then never looks at its token."""
    progress(0.1, "napping")
    RELEASE.wait(600)
    return {"label": request.label}


NAP = Operation(
    name="test-nap",
    feature="system",
    summary="Test only: ignores cancellation.",
    request=NapRequest,
    service=f"{__name__}:ignore_cancel",
    payload=lambda result: dict(result),
    long_running=True,
)


class FakeTime:
    """The worker's clock and wait: each wait advances the clock by its timeout at once,
    once the operation has reported (so the grace is counted in ticks, not seconds)."""

    def __init__(self, reported: threading.Event) -> None:
        self.now = datetime.now(UTC)
        self.reported = reported

    def clock(self) -> datetime:
        return self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        self.reported.wait(60)
        if event.is_set():
            return True
        self.now += timedelta(seconds=seconds)
        return event.is_set()


@pytest.fixture
def nap() -> Iterator[Operation]:
    from app.operations import _REGISTRY

    RELEASE.clear()
    register(NAP)
    yield NAP
    RELEASE.set()  # let the abandoned thread return
    _REGISTRY.pop(NAP.name, None)


def _nap_worker(act: Any) -> tuple[JobWorker, FakeTime, dict[str, datetime]]:
    reported, marks = threading.Event(), {}
    fake = FakeTime(reported)

    def observe(jid: int, fraction: float, message: str, token: CancelToken) -> None:
        act(jid)
        marks["asked"] = fake.now
        reported.set()

    worker = JobWorker(get_engine(), clock=fake.clock, wait=fake.wait, observe=observe)
    return worker, fake, marks


def test_a_cancelled_operation_that_ignores_it_is_abandoned_after_the_grace(
    nap: Operation,
) -> None:
    job_id = jobs.submit(nap.name, NapRequest(), actor=ANA)
    worker, fake, marks = _nap_worker(lambda jid: jobs.cancel_job(jid, actor=ANA))
    assert worker.run_pending(max_jobs=1) == 1
    job = jobs.get_job(job_id)
    assert (job.status, job.cancel_requested, job.result) == ("cancelled", True, None)
    waited = (fake.now - marks["asked"]).total_seconds()
    # Seen at the next tick, abandoned once grace_s (10 s) of ticks had passed since.
    assert worker.grace_s <= waited <= worker.grace_s + 2 * worker.tick_s
    thread = next(t for t in threading.enumerate() if t.name == f"job-{job_id}")
    assert thread.is_alive()  # still napping: abandoned, not waited for
    RELEASE.set()
    thread.join(60)
    assert jobs.get_job(job_id).status == "cancelled"  # its late return changed nothing


def test_a_stopped_worker_abandons_an_operation_that_ignores_it_and_requeues_the_job(
    nap: Operation,
) -> None:
    job_id = jobs.submit(nap.name, NapRequest(), actor=ANA)
    holder: list[JobWorker] = []
    worker, fake, marks = _nap_worker(lambda jid: holder[0].stop())
    holder.append(worker)
    assert worker.run_pending(max_jobs=1) == 1
    job = jobs.get_job(job_id)
    assert (job.status, job.attempt, job.worker) == ("queued", 1, None)
    assert job.message == f"requeued: worker {worker.name} stopped"
    waited = (fake.now - marks["asked"]).total_seconds()
    assert worker.grace_s <= waited <= worker.grace_s + 2 * worker.tick_s
    RELEASE.set()
    jobs.cancel_job(job_id, actor=ANA)


def test_the_worker_warms_up_while_idle_and_waits_while_a_job_runs() -> None:
    job_id = jobs.submit("sweep", _sweep(), actor=ANA)
    running, warmed, seen = threading.Event(), threading.Event(), []

    def observe(jid: int, fraction: float, message: str, token: CancelToken) -> None:
        running.set()

    def warm(gate: ActivityGate) -> float:
        seen.append([w.name for w in live_workers()])
        running.wait(60)
        gate.wait_quiet(0.0)  # what each warm-up step does first
        seen.append(jobs.get_job(job_id).status)
        warmed.set()
        return 0.0

    worker = JobWorker(get_engine(), name="w-warm", warm=warm, observe=observe)
    assert worker.serve(once=True) == 1
    assert warmed.wait(60)
    # Its record was written first; the step waited for the job to end.
    assert seen == [["w-warm"], "done"]


def test_a_restarted_worker_takes_back_the_job_its_killed_predecessor_held() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    job_id = jobs.submit("sweep", _sweep(), actor=ANA)
    with session_scope(get_engine()) as s:
        now = datetime.now(UTC)
        assert JobRepository(s).claim_next("w-same", 600, now) is not None
        WorkerRepository(s).beat("w-same", host=HOST, pid=dead.pid, now=now, ttl_s=600)
    # Same name, new process: its first beat would hide the dead pid, so it reaps first.
    assert JobWorker(get_engine(), name="w-same").serve(once=True) == 1
    done = jobs.get_job(job_id)
    assert (done.status, done.attempt, done.worker) == ("done", 2, "w-same")
