"""The job record: lifecycle, refused transitions, leases and concurrent claiming."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from core.store.db import alembic_config, make_engine, upgrade
from core.store.jobs import (
    IllegalTransitionError,
    JobError,
    JobNotFoundError,
    JobRepository,
    LeaseLostError,
    WorkerRepository,
    pid_alive,
)
from tests.app.concurrency_helpers import run_together
from tests.pg import fresh_pg_database

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PRELOAD = ("core.store.jobs", "core.store.db")


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    upgrade(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        engine = _engine(tmp_path)
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()
        return
    with fresh_pg_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield sessionmaker(engine, expire_on_commit=False)
        engine.dispose()


def test_full_lifecycle(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        repo = JobRepository(s)
        job_id = repo.submit("sweep", {"symbol": "SPY", "grid": [1, 2]}, "ana", now=T0)
    with factory.begin() as s:
        job = JobRepository(s).claim_next("w1", 30, T0 + timedelta(seconds=1))
        assert job is not None and job.id == job_id
        assert (job.status, job.worker, job.attempt) == ("running", "w1", 1)
        assert job.lease_until is not None
    with factory.begin() as s:
        repo = JobRepository(s)
        assert repo.claim_next("w2", 30, T0 + timedelta(seconds=2)) is None
        cancel = repo.heartbeat(job_id, "w1", 0.5, "half", T0 + timedelta(seconds=20))
        assert cancel is False
        # The heartbeat renewed the lease: 20 s + 30 s, still held at 45 s.
        repo.heartbeat(job_id, "w1", 0.75, "three quarters", T0 + timedelta(seconds=45))
        repo.finish(job_id, "w1", {"run_id": 7}, T0 + timedelta(seconds=50))
    with factory() as s:
        job = JobRepository(s).get(job_id)
        assert job is not None
        assert job.status == "done" and job.result == {"run_id": 7}
        assert job.progress == 1.0 and job.message == "three quarters"
        assert job.spec == {"symbol": "SPY", "grid": [1, 2]}
        assert job.finished_at is not None and job.started_at is not None
        assert job.lease_until is None


def test_cancel_fail_retry_and_list(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        repo = JobRepository(s)
        a = repo.submit("sweep", {"n": 1}, "ana", now=T0)
        b = repo.submit("tearsheet", {"n": 2}, "bob", now=T0 + timedelta(seconds=1))
        c = repo.submit("sweep", {"n": 3}, "bob", now=T0 + timedelta(seconds=2))
    with factory.begin() as s:
        repo = JobRepository(s)
        assert repo.request_cancel(a, "ana", T0) == "cancelled"
        job = repo.claim_next("w", 30, T0, kinds=["tearsheet"])
        assert job is not None and job.id == b
        assert repo.request_cancel(b, "bob", T0) == "running"
        assert repo.heartbeat(b, "w", 0.1, "", T0) is True
        repo.mark_cancelled(b, "w", T0)
        job = repo.claim_next("w", 30, T0)
        assert job is not None and job.id == c
        repo.fail(c, "w", "ValueError: bad grid", T0)
    with factory.begin() as s:
        repo = JobRepository(s)
        assert [j.status for j in repo.list()] == ["failed", "cancelled", "cancelled"]
        assert [j.id for j in repo.list(owner="bob")] == [c, b]
        assert [j.id for j in repo.list(kind="sweep", status="cancelled")] == [a]
        new = repo.retry(c, "carol", T0 + timedelta(seconds=5))
        again = repo.get(new)
        assert again is not None
        assert (again.status, again.retry_of, again.owner, again.spec) == (
            "queued",
            c,
            "carol",
            {"n": 3},
        )
        assert repo.get(c) is not None and repo.get(c).error == "ValueError: bad grid"  # type: ignore[union-attr]
        assert repo.retry(a, "ana") > new


def test_refusals_have_plain_messages(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        repo = JobRepository(s)
        job_id = repo.submit("sweep", {}, "ana", now=T0)
        with pytest.raises(IllegalTransitionError, match="only a failed or cancelled job"):
            repo.retry(job_id, "ana")
        with pytest.raises(IllegalTransitionError, match="is queued; only a running job"):
            repo.finish(job_id, "w", None, T0)
        assert repo.claim_next("w", 30, T0) is not None
        with pytest.raises(IllegalTransitionError, match="no cancellation request"):
            repo.mark_cancelled(job_id, "w", T0)
        with pytest.raises(ValueError, match="between 0 and 1"):
            repo.heartbeat(job_id, "w", 1.5, "", T0)
        repo.finish(job_id, "w", {"run_id": 1}, T0)
        with pytest.raises(
            IllegalTransitionError, match=f"job {job_id} is done; only a failed or cancelled"
        ):
            repo.retry(job_id, "ana")
        with pytest.raises(IllegalTransitionError, match="only a queued or running job"):
            repo.request_cancel(job_id, "ana", T0)
        with pytest.raises(JobNotFoundError, match="there is no job 999"):
            repo.request_cancel(999, "ana", T0)


def test_expired_lease_requeues_and_old_worker_is_locked_out(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as s:
        repo = JobRepository(s)
        job_id = repo.submit("walkforward", {}, "ana", now=T0)
        assert repo.claim_next("w1", 10, T0) is not None
    with factory.begin() as s:
        repo = JobRepository(s)
        # Still leased at 10 s exactly; nobody else may take it.
        assert repo.claim_next("w2", 10, T0 + timedelta(seconds=10)) is None
        with pytest.raises(LeaseLostError, match="has expired"):
            repo.heartbeat(job_id, "w1", 0.2, "", T0 + timedelta(seconds=11))
        job = repo.claim_next("w2", 10, T0 + timedelta(seconds=11))
        assert job is not None and (job.id, job.worker, job.attempt) == (job_id, "w2", 2)
    with factory.begin() as s:
        repo = JobRepository(s)
        t = T0 + timedelta(seconds=12)
        for write in (
            lambda: repo.heartbeat(job_id, "w1", 0.3, "", t),
            lambda: repo.finish(job_id, "w1", {"run_id": 1}, t),
            lambda: repo.fail(job_id, "w1", "boom", t),
        ):
            with pytest.raises(LeaseLostError, match="held by worker w2, not w1"):
                write()
        repo.finish(job_id, "w2", {"run_id": 2}, t)
        job = repo.get(job_id)
        assert job is not None and job.result == {"run_id": 2} and job.attempt == 2


def test_expired_job_with_cancel_request_is_cancelled_not_rerun(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as s:
        repo = JobRepository(s)
        job_id = repo.submit("sweep", {}, "ana", now=T0)
        repo.claim_next("w1", 10, T0)
        repo.request_cancel(job_id, "ana", T0 + timedelta(seconds=1))
    with factory.begin() as s:
        repo = JobRepository(s)
        assert repo.claim_next("w2", 10, T0 + timedelta(seconds=60)) is None
        job = repo.get(job_id)
        assert job is not None and job.status == "cancelled" and job.worker is None


# -- a dead worker's job is claimed again at once --------------------------------------------

HERE = "host-a"


def _held_by(factory: sessionmaker[Session], name: str, host: str, pid: int, ttl_s: float) -> int:
    """A job claimed at T0 with a 600 s lease by worker ``name``, whose record is alive
    until ``T0 + ttl_s``."""
    with factory.begin() as s:
        repo = JobRepository(s)
        job_id = repo.submit("sweep", {}, "ana", now=T0)
        job = repo.claim_next(name, 600, T0, host=HERE, alive=lambda pid: True)
        assert job is not None and job.id == job_id
        WorkerRepository(s).beat(name, host=host, pid=pid, now=T0, ttl_s=ttl_s, job_id=job_id)
    return job_id


def test_a_dead_workers_job_is_claimed_within_one_poll(factory: sessionmaker[Session]) -> None:
    dead = {4242}
    job_id = _held_by(factory, "w1", HERE, 4242, ttl_s=600)
    one_poll = T0 + timedelta(seconds=0.5)  # the lease runs until T0 + 600 s
    with factory.begin() as s:
        repo = JobRepository(s)
        assert repo.claim_next("w2", 30, one_poll, host=HERE, alive=lambda pid: True) is None
        job = repo.claim_next("w2", 30, one_poll, host=HERE, alive=lambda pid: pid not in dead)
        assert job is not None and (job.id, job.worker, job.attempt) == (job_id, "w2", 2)
        assert job.message == "worker w1 died (pid 4242 on host-a is gone); back in the queue"
        assert job.lease_until is not None
        assert _as_utc(job.lease_until) == one_poll + timedelta(seconds=30)
    with factory.begin() as s:
        # The dead worker's late writes are refused; the new holder's are not.
        repo = JobRepository(s)
        with pytest.raises(LeaseLostError, match="held by worker w2, not w1"):
            repo.heartbeat(job_id, "w1", 0.5, "", one_poll)
        repo.finish(job_id, "w2", {"run_id": 3}, one_poll + timedelta(seconds=1))


def test_an_expired_worker_record_frees_its_job_on_any_host(
    factory: sessionmaker[Session],
) -> None:
    job_id = _held_by(factory, "w1", "host-b", 7, ttl_s=30)
    with factory.begin() as s:
        repo = JobRepository(s)
        # Another host: its pid cannot be checked from here, so only its expiry counts.
        never = lambda pid: False  # noqa: E731
        assert repo.claim_next("w2", 30, T0 + timedelta(seconds=29), host=HERE, alive=never) is None
        job = repo.claim_next("w2", 30, T0 + timedelta(seconds=30), host=HERE, alive=never)
        assert job is not None and (job.id, job.attempt) == (job_id, 2)
        assert job.message == "worker w1 stopped renewing its record; back in the queue"


def test_a_live_worker_or_one_without_a_record_keeps_its_job(
    factory: sessionmaker[Session],
) -> None:
    _held_by(factory, "w1", HERE, os.getpid(), ttl_s=600)  # alive: this very process
    with factory.begin() as s:
        job_id = JobRepository(s).submit("sweep", {}, "ana", now=T0)
        assert JobRepository(s).claim_next("w3", 600, T0, host=HERE) is not None  # no record
    with factory.begin() as s:
        repo = JobRepository(s)
        later = T0 + timedelta(seconds=5)
        assert repo.reap_dead(later, host=HERE) == []
        assert repo.claim_next("w2", 30, later, host=HERE) is None
        assert repo.get(job_id) is not None


def test_a_dead_workers_cancelled_job_ends_cancelled_at_once(
    factory: sessionmaker[Session],
) -> None:
    job_id = _held_by(factory, "w1", HERE, 4242, ttl_s=600)
    with factory.begin() as s:
        JobRepository(s).request_cancel(job_id, "ana", T0 + timedelta(seconds=1))
    with factory.begin() as s:
        repo = JobRepository(s)
        soon = T0 + timedelta(seconds=2)
        assert repo.claim_next("w2", 30, soon, host=HERE, alive=lambda pid: False) is None
        job = repo.get(job_id)
        assert job is not None and (job.status, job.attempt) == ("cancelled", 1)


def test_a_really_dead_process_is_seen_dead() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert proc.wait(timeout=60) == 0
    assert not pid_alive(proc.pid) and pid_alive(os.getpid())
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        zombie.send_signal(signal.SIGKILL)
        # Not waited for: a zombie until reaped, and dead to the store already.
        deadline = time.monotonic() + 60
        while pid_alive(zombie.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not pid_alive(zombie.pid)
        assert Path(f"/proc/{zombie.pid}/stat").exists()  # the zombie is still there
    finally:
        zombie.wait(timeout=60)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- a state machine against a plain model of the rules ---------------------------------------

WORKERS = ("w1", "w2")


class JobMachine(RuleBasedStateMachine):
    """Random sequences of every operation; the store must agree with a plain model."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = make_engine("sqlite:///:memory:")
        from core.store.base import Base

        tables = [Base.metadata.tables[name] for name in ("jobs", "job_workers")]
        Base.metadata.create_all(self.engine, tables=tables)
        self.session = Session(self.engine)
        self.repo = JobRepository(self.session)
        self.now = T0
        self.model: dict[int, dict[str, Any]] = {}
        self.last_claimed = 0

    def teardown(self) -> None:
        self.session.close()
        self.engine.dispose()

    @initialize()
    def first(self) -> None:
        self.submit()

    def _expect(self, ok: bool, call: Any) -> None:
        if ok:
            call()
        else:
            with pytest.raises(JobError):
                call()

    @rule()
    def submit(self) -> None:
        job_id = self.repo.submit("sweep", {"i": len(self.model)}, "ana", now=self.now)
        self.model[job_id] = {"status": "queued", "worker": None, "until": None, "cancel": False}

    @rule(seconds=st.sampled_from([0, 1, 4, 9, 10, 11, 14, 30]))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def _pick(self, data: st.DataObject) -> int:
        # Mostly the job claimed last (so leases, expiry and lost races are exercised).
        if self.last_claimed and data.draw(st.booleans()):
            return self.last_claimed
        return data.draw(st.sampled_from(sorted(self.model)))

    def _live(self, m: dict[str, Any], worker: str) -> bool:
        return bool(m["status"] == "running" and m["worker"] == worker and m["until"] >= self.now)

    @rule(worker=st.sampled_from(WORKERS))
    def claim(self, worker: str) -> None:
        for m in self.model.values():  # expired jobs asked to stop become cancelled
            if m["status"] == "running" and m["until"] < self.now and m["cancel"]:
                m.update(status="cancelled", worker=None)
        candidates = [
            i
            for i, m in sorted(self.model.items())
            if m["status"] == "queued"
            or (m["status"] == "running" and m["until"] < self.now and not m["cancel"])
        ]
        job = self.repo.claim_next(worker, 10, self.now)
        if not candidates:
            assert job is None
            return
        assert job is not None and job.id == candidates[0]
        self.last_claimed = job.id
        self.model[job.id].update(
            status="running", worker=worker, until=self.now + timedelta(seconds=10)
        )

    @rule(worker=st.sampled_from(WORKERS), data=st.data())
    def heartbeat(self, worker: str, data: st.DataObject) -> None:
        job_id = self._pick(data)
        m = self.model[job_id]
        ok = self._live(m, worker)
        self._expect(ok, lambda: self.repo.heartbeat(job_id, worker, 0.5, "", self.now, lease_s=10))
        if ok:
            m["until"] = self.now + timedelta(seconds=10)

    @rule(
        worker=st.sampled_from(WORKERS),
        end=st.sampled_from(["done", "failed", "cancelled"]),
        data=st.data(),
    )
    def end(self, worker: str, end: str, data: st.DataObject) -> None:
        job_id = self._pick(data)
        m = self.model[job_id]
        ok = self._live(m, worker) and (end != "cancelled" or m["cancel"])
        calls = {
            "done": lambda: self.repo.finish(job_id, worker, {"run_id": 1}, self.now),
            "failed": lambda: self.repo.fail(job_id, worker, "boom", self.now),
            "cancelled": lambda: self.repo.mark_cancelled(job_id, worker, self.now),
        }
        self._expect(ok, calls[end])
        if ok:
            m.update(status=end, worker=None)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.model)))
        m = self.model[job_id]
        self._expect(
            m["status"] in ("queued", "running"),
            lambda: self.repo.request_cancel(job_id, "ana", self.now),
        )
        if m["status"] == "queued":
            m["status"] = "cancelled"
        elif m["status"] == "running":
            m["cancel"] = True

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(sorted(self.model)))
        ok = self.model[job_id]["status"] in ("failed", "cancelled")
        if not ok:
            with pytest.raises(IllegalTransitionError):
                self.repo.retry(job_id, "bob", self.now)
            return
        new = self.repo.retry(job_id, "bob", self.now)
        self.model[new] = {"status": "queued", "worker": None, "until": None, "cancel": False}

    @invariant()
    def statuses_agree(self) -> None:
        stored = {j.id: j.status for j in self.repo.list(limit=10_000)}
        assert stored == {i: m["status"] for i, m in self.model.items()}


JobMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestJobMachine = JobMachine.TestCase


# -- many processes claiming at once ----------------------------------------------------------

N_PROCESSES = 8
N_JOBS = 20


def prepare_claim_all(url: str) -> Any:
    engine = make_engine(url)
    with engine.connect():
        pass
    return sessionmaker(engine)


def claim_all(index: int, factory: Any, url: str) -> tuple[str, list[int]]:
    claimed: list[int] = []
    while True:
        with factory.begin() as s:
            job = JobRepository(s).claim_next(f"w{index}", 60, T0 + timedelta(seconds=1))
            if job is None:
                return "ok", claimed
            claimed.append(job.id)


def _claim_race(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    with Session(engine) as s, s.begin():
        repo = JobRepository(s)
        # First, a job whose worker (a real process of this host) died holding it: reaped
        # by the claimers at once (its lease runs 600 s) and claimed by exactly one.
        orphan = repo.submit("sweep", {"orphan": True}, "ana", now=T0 - timedelta(seconds=1))
        repo.claim_next("w-dead", 600, T0 - timedelta(seconds=1))
        WorkerRepository(s).beat(
            "w-dead", host=socket.gethostname(), pid=dead.pid, now=T0, ttl_s=600, job_id=orphan
        )
        ids = [repo.submit("sweep", {"i": i}, "ana", now=T0) for i in range(N_JOBS)]
    engine.dispose()
    results = run_together("tests.core.test_store_jobs:claim_all", N_PROCESSES, {}, url)
    errors = [value for _, kind, value in results if kind == "error"]
    assert errors == []
    claimed = [job_id for _, _, value in results for job_id in value]
    assert sorted(claimed) == [orphan, *ids]  # every job exactly once
    engine = make_engine(url)
    with Session(engine) as s:
        jobs = JobRepository(s).list(limit=100)
        assert {j.status for j in jobs} == {"running"}
        assert {j.id: j.attempt for j in jobs} == {orphan: 2, **dict.fromkeys(ids, 1)}
        owner = {j.id: j.worker for j in jobs}
    engine.dispose()
    assert owner == {job_id: f"w{index}" for index, _, value in results for job_id in value}


def test_processes_claim_each_job_once_sqlite(tmp_path: Path) -> None:
    _claim_race(f"sqlite:///{tmp_path / 'race.db'}")


def test_processes_claim_each_job_once_postgres() -> None:
    with fresh_pg_database() as url:
        _claim_race(url)


# -- the migration ------------------------------------------------------------------------------


def test_migration_upgrades_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mig.db'}"
    engine = make_engine(url)
    upgrade(engine)
    insp = inspect(engine)
    assert "jobs" in insp.get_table_names()
    assert {i["name"] for i in insp.get_indexes("jobs")} >= {
        "ix_jobs_status_created",
        "ix_jobs_kind_created",
        "ix_jobs_owner_created",
    }
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    assert "jobs" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    assert "jobs" in inspect(engine).get_table_names()
    engine.dispose()


# -- releasing a job, worker records and the start lock -----------------------------------------


def test_release_requeues_a_held_job_for_the_next_claim(factory: sessionmaker[Session]) -> None:
    with factory.begin() as s:
        job_id = JobRepository(s).submit("sweep", {}, "ana", now=T0)
    with factory.begin() as s:
        JobRepository(s).claim_next("w1", 30, T0)
    with factory.begin() as s:
        with pytest.raises(LeaseLostError, match="held by worker w1, not w2"):
            JobRepository(s).release(job_id, "w2", T0, "nope")
    with factory.begin() as s:
        JobRepository(s).release(job_id, "w1", T0 + timedelta(seconds=1), "requeued: w1 stopped")
    with factory.begin() as s:
        job = JobRepository(s).get(job_id)
        assert job is not None
        assert (job.status, job.worker, job.lease_until, job.attempt, job.message) == (
            "queued",
            None,
            None,
            1,
            "requeued: w1 stopped",
        )
    with factory.begin() as s:
        again = JobRepository(s).claim_next("w2", 30, T0 + timedelta(seconds=2))
        assert again is not None and (again.id, again.attempt) == (job_id, 2)
    with factory.begin() as s:
        with pytest.raises(LeaseLostError):
            JobRepository(s).release(job_id, "w1", T0 + timedelta(seconds=3), "late")


def test_worker_records_expire_and_the_start_lock_has_one_holder(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as s:
        workers = WorkerRepository(s)
        workers.beat("w1", host="h", pid=1, now=T0, ttl_s=10, kinds=["sweep"])
        workers.beat("w2", host="h", pid=2, now=T0, ttl_s=5)
    with factory.begin() as s:
        later = T0 + timedelta(seconds=8)
        WorkerRepository(s).beat("w1", host="h", pid=1, now=later, ttl_s=10, kinds=["sweep"])
    with factory.begin() as s:
        live = WorkerRepository(s).unexpired(T0 + timedelta(seconds=6))
        assert [(w.name, w.kinds) for w in live] == [("w1", ["sweep"])]  # w2 expired at T0 + 5
    with factory.begin() as s:
        workers = WorkerRepository(s)
        assert workers.take_start_lock(host="h", pid=1, now=T0, ttl_s=30)
        soon = T0 + timedelta(seconds=29)
        assert not workers.take_start_lock(host="h", pid=2, now=soon, ttl_s=30)
        assert [w.name for w in workers.unexpired(T0)] == ["w1", "w2"]  # the lock is no worker
    with factory.begin() as s:
        workers = WorkerRepository(s)
        workers.release_start_lock(host="h", pid=2)  # not the holder: nothing happens
        assert not workers.take_start_lock(host="h", pid=2, now=T0 + timedelta(seconds=1), ttl_s=30)
        # Expired: taken over; released by its holder: free at once.
        assert workers.take_start_lock(host="h", pid=2, now=T0 + timedelta(seconds=30), ttl_s=30)
        workers.release_start_lock(host="h", pid=2)
        assert workers.take_start_lock(host="h", pid=3, now=T0 + timedelta(seconds=31), ttl_s=30)
        workers.remove("w1")
        assert [w.name for w in workers.unexpired(T0)] == ["w2"]


prepare_take_lock = prepare_claim_all


def take_lock(index: int, factory: Any, url: str) -> tuple[str, bool]:
    with factory.begin() as s:
        return "ok", WorkerRepository(s).take_start_lock(host="h", pid=index, now=T0, ttl_s=30)


def test_processes_taking_the_start_lock_at_once_one_gets_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    upgrade(make_engine(url))
    results = run_together("tests.core.test_store_jobs:take_lock", N_PROCESSES, {}, url)
    assert [kind for _, kind, _ in results] == ["ok"] * N_PROCESSES, results
    assert sorted(taken for _, _, taken in results) == [False] * (N_PROCESSES - 1) + [True]
