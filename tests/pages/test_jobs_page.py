"""The Jobs page: the table filtered by kind, owner and status; retry, cancel, reopen."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest

from app.operations.sweep import SweepRequest
from app.operations.walkforward import WalkForwardRequest
from app.services import jobs
from app.services.auth import LOCAL, Actor
from app.services.db import get_engine
from core.store.db import session_scope
from core.store.jobs import JobRepository
from core.sweep import GridAxis
from tests.pages.helpers import metrics, open_app

ALICE = Actor("alice", frozenset({"analyst"}))
SWEEP = SweepRequest(grid={"fast": GridAxis.parse("10:30:10"), "slow": GridAxis.parse("20:60:20")})
WALK = WalkForwardRequest(strategy="ma_crossover", grid={"fast": GridAxis.parse("10:20:10")})


def _fail(job_id: int, error: str) -> None:
    with session_scope(get_engine()) as session:
        repo = JobRepository(session)
        claimed = repo.claim_next("test-worker", 60.0, datetime.now(UTC), kinds=["walkforward"])
        assert claimed is not None and claimed.id == job_id
        repo.fail(job_id, "test-worker", error, datetime.now(UTC))


@pytest.fixture
def three_jobs() -> dict[str, int]:
    """alice's failed walk-forward, alice's queued sweep, and the local user's queued sweep."""
    failed = jobs.submit("walkforward", WALK, actor=ALICE)
    _fail(failed, "no data for symbol XYZ")
    queued = jobs.submit("sweep", SWEEP, actor=ALICE)
    mine = jobs.submit("sweep", SWEEP, actor=LOCAL)
    return {"failed": failed, "queued": queued, "mine": mine}


def _table(at: AppTest) -> list[dict[str, object]]:
    if not at.dataframe:
        return []
    rows: list[dict[str, object]] = at.dataframe[0].value.to_dict(orient="records")
    return rows


def test_the_table_filters_by_kind_owner_and_status(three_jobs: dict[str, int]) -> None:
    at = open_app("jobs")
    assert at.title[0].value == "Jobs"
    rows = _table(at)
    assert [r["id"] for r in rows] == [
        three_jobs["mine"],
        three_jobs["queued"],
        three_jobs["failed"],
    ]
    assert list(rows[0]) == [
        "id", "kind", "owner", "status", "progress %", "message", "created", "duration", "attempt",
    ]  # fmt: skip
    failed = rows[2]
    assert (failed["kind"], failed["owner"], failed["status"]) == ("walkforward", "alice", "failed")
    assert failed["message"] == "no data for symbol XYZ" and failed["attempt"] == 1

    at.selectbox(key="jobs.kind").set_value("sweep").run()
    assert {r["id"] for r in _table(at)} == {three_jobs["mine"], three_jobs["queued"]}
    at.selectbox(key="jobs.owner").set_value("alice").run()
    assert [r["id"] for r in _table(at)] == [three_jobs["queued"]]
    at.selectbox(key="jobs.status").set_value("failed").run()
    assert _table(at) == [] and "No job matches these filters." in [i.value for i in at.info]
    at.selectbox(key="jobs.kind").set_value("(all)").run()
    assert [r["id"] for r in _table(at)] == [three_jobs["failed"]]


def test_retry_of_a_failed_job_queues_a_new_one(three_jobs: dict[str, int]) -> None:
    at = open_app("jobs")
    at.selectbox(key="jobs.status").set_value("failed").run()
    at.selectbox(key="jobs.pick").set_value(three_jobs["failed"]).run()
    assert [e.value for e in at.error] == [
        f"Job #{three_jobs['failed']} failed: no data for symbol XYZ"
    ]
    at.button(key="jobs.retry").click().run()
    assert not at.exception, at.exception
    (new,) = [j for j in jobs.list_jobs() if j.retry_of == three_jobs["failed"]]
    assert (new.status, new.kind, new.owner, new.spec) == (
        "queued", "walkforward", "local", jobs.get_job(three_jobs["failed"]).spec,
    )  # fmt: skip
    at.selectbox(key="jobs.status").set_value("queued").run()
    assert new.id in [r["id"] for r in _table(at)]


def test_cancel_a_queued_job_and_its_sentence(three_jobs: dict[str, int]) -> None:
    at = open_app("jobs")
    at.selectbox(key="jobs.pick").set_value(three_jobs["queued"]).run()
    at.button(key="jobs.cancel").click().run()
    assert not at.exception, at.exception
    assert jobs.get_job(three_jobs["queued"]).status == "cancelled"
    assert f"job {three_jobs['queued']} was queued and is now cancelled" in [
        i.value for i in at.info
    ]
    status = {r["id"]: r["status"] for r in _table(at)}
    assert status[three_jobs["queued"]] == "cancelled" and status[three_jobs["mine"]] == "queued"


def test_cancelling_someone_elses_job_without_the_role_shows_the_services_sentence(
    three_jobs: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_USER", "bob")
    monkeypatch.setenv("WORKBENCH_ROLES", "analyst")
    at = open_app("jobs")
    at.selectbox(key="jobs.pick").set_value(three_jobs["queued"]).run()
    at.button(key="jobs.cancel").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == [
        f"cancelling job {three_jobs['queued']} needs its owner (alice) or the 'pm' role; "
        "bob has ['analyst']"
    ]
    assert jobs.get_job(three_jobs["queued"]).status == "queued"


def test_a_done_job_opens_on_its_page() -> None:
    job_id = jobs.submit("sweep", SWEEP, actor=LOCAL)
    assert jobs.run_pending() == 1
    at = open_app("jobs")
    at.selectbox(key="jobs.pick").set_value(job_id).run()
    assert '"run_id"' in at.code[1].value  # the result, beside the spec
    # Its scalar fields read as numbers do (no 16-digit floats anywhere on the page).
    fields = dict(at.dataframe[1].value[["Field", "Value"]].itertuples(index=False))
    result = jobs.get_job(job_id).result or {}
    assert fields["run id"] == str(result["run_id"])
    assert fields["combinations"] == "7"
    shown = [c.value for c in at.code] + [str(v) for v in fields.values()]
    assert not [t for t in shown if re.search(r"\d\.\d{12,}", t)], shown
    assert re.search(r"\d\.\d{12,}", json.dumps(result))  # the stored result keeps them whole
    at.button(key="jobs.open").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Sweep"
    assert metrics(at)["Combinations"] == "7"
