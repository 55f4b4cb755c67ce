"""The job routes over real tokens, the real job queue and an in-process worker
(:func:`app.services.jobs.run_pending`): a sweep submitted through the API runs as its
owner and its result is the synchronous sweep's; status, result and cancel are the
owner's or a PM's; a job that is not done answers 409 with its state or its error."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.operations import all_operations, get
from app.operations.sweep import SweepRequest
from app.services import jobs
from tests.api.conftest import MakeToken

SWEEP: dict[str, Any] = {
    "symbol": "SP500",
    "strategy": "ma_crossover",
    "grid": {
        "fast": {"start": 5, "stop": 10, "step": 5},
        "slow": {"start": 20, "stop": 40, "step": 20},
    },
    "start": "2010-01-01",
    "end": "2012-12-31",
}
RUN_SPECIFIC = ("seconds", "run_id")  # how long it took and the saved run's id


def _comparable(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in RUN_SPECIFIC}


def test_a_sweep_job_runs_as_its_owner_and_gives_the_synchronous_result(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    submitted = client.post("/api/v1/jobs/sweep", json=SWEEP, headers=ann.headers)
    assert submitted.status_code == 202, submitted.text
    body = submitted.json()
    job_id = body["job_id"]
    base = f"/api/v1/jobs/{job_id}"
    assert body == {
        "job_id": job_id,
        "status": "queued",
        "operation": "sweep",
        "links": {"self": base, "result": f"{base}/result", "cancel": f"{base}/cancel"},
    }
    status = client.get(base, headers=ann.headers).json()
    assert (status["owner"], status["kind"], status["status"]) == ("ann", "sweep", "queued")
    assert status["spec"] == SweepRequest(**SWEEP).model_dump(mode="json")
    waiting = client.get(f"{base}/result", headers=ann.headers)
    assert waiting.status_code == 409 and "queued" in waiting.json()["detail"]

    assert jobs.run_pending() == 1
    done = client.get(base, headers=ann.headers).json()
    assert done["status"] == "done" and done["progress"] == 1.0 and done["finished_at"]
    result = client.get(f"{base}/result", headers=ann.headers)
    assert result.status_code == 200
    op = get("sweep")
    synchronous = op.payload(op.run(SweepRequest(**SWEEP)))
    assert _comparable(result.json()) == _comparable(synchronous)
    assert result.json()["combinations"] == 4 and result.json()["best"]["fast"] in (5, 10)

    finished = client.post(f"{base}/cancel", headers=ann.headers)
    assert finished.status_code == 409 and "already done" in finished.json()["detail"]


def test_a_job_is_its_owners_or_a_pms(client: TestClient, make_token: MakeToken) -> None:
    ann, bob = make_token("ann", {"analyst"}), make_token("bob", {"analyst"})
    pam = make_token("pam", {"pm"})
    job_id = client.post("/api/v1/jobs/sweep", json=SWEEP, headers=ann.headers).json()["job_id"]
    base = f"/api/v1/jobs/{job_id}"
    for path in (base, f"{base}/result"):
        refused = client.get(path, headers=bob.headers)
        assert refused.status_code == 403 and "owner (ann)" in refused.json()["detail"]
    assert client.post(f"{base}/cancel", headers=bob.headers).status_code == 403
    assert client.get(base, headers=pam.headers).json()["owner"] == "ann"

    assert [j["id"] for j in client.get("/api/v1/jobs", headers=ann.headers).json()] == [job_id]
    assert client.get("/api/v1/jobs", headers=bob.headers).json() == []
    everyone = client.get("/api/v1/jobs", params={"status": "queued"}, headers=pam.headers)
    assert [j["id"] for j in everyone.json()] == [job_id]
    assert client.get("/api/v1/jobs", params={"status": "done"}, headers=pam.headers).json() == []
    bad = client.get("/api/v1/jobs", params={"status": "bogus"}, headers=pam.headers)
    assert bad.status_code == 422 and "queued" in bad.json()["detail"]
    assert client.get("/api/v1/jobs/999", headers=pam.headers).status_code == 404

    cancelled = client.post(f"{base}/cancel", headers=pam.headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["job_id"] == job_id
    assert jobs.run_pending() == 0
    result = client.get(f"{base}/result", headers=ann.headers)
    assert result.status_code == 409 and "was cancelled" in result.json()["detail"]


def test_a_failed_job_answers_409_with_its_error(client: TestClient, make_token: MakeToken) -> None:
    ann = make_token("ann", {"analyst"})
    doomed = {**SWEEP, "dataset": "uploads", "symbol": "missing"}  # valid, but no such data
    job_id = client.post("/api/v1/jobs/sweep", json=doomed, headers=ann.headers).json()["job_id"]
    assert jobs.run_pending() == 1
    job = jobs.get_job(job_id)
    assert job.status == "failed" and job.error
    result = client.get(f"/api/v1/jobs/{job_id}/result", headers=ann.headers)
    assert result.status_code == 409
    assert "failed" in result.json()["detail"] and job.error in result.json()["detail"]


def test_every_long_operation_has_a_typed_job_path(
    client: TestClient, make_token: MakeToken
) -> None:
    schema = client.get("/openapi.json").json()
    long_ops = [op for op in all_operations() if op.long_running]
    assert {"sweep", "walkforward", "train", "universe", "retrain replay"} <= {
        op.name for op in long_ops
    }
    for op in long_ops:
        post = schema["paths"][f"/api/v1/jobs/{op.name.replace(' ', '-')}"]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[-1] == op.request.__name__
        assert "202" in post["responses"] and "403" in post["responses"]
    ann = make_token("ann", {"analyst"})
    bad = client.post("/api/v1/jobs/sweep", json={**SWEEP, "grid": {}}, headers=ann.headers)
    assert bad.status_code == 422 and bad.json()["fields"]
    missing = client.post("/api/v1/jobs/walkforward", json={"bogus": 1}, headers=ann.headers)
    assert missing.status_code == 422
    assert jobs.list_jobs() == []  # nothing queued
    assert client.post("/api/v1/jobs/sweep", json=SWEEP).status_code == 401
