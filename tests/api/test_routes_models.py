"""The model routes over real tokens and the real registry: two versions of a small real
training run, listed as the service lists them, promoted and rolled back by a PM (the
registry's trail names the token's user), refused to others."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.operations.registry import RegisterRequest, VersionsRequest
from app.operations.training import TrainRequest
from app.services import registry
from app.services.training import train
from tests.api.conftest import MakeToken

FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]


@pytest.fixture
def two_versions() -> tuple[int, int]:
    """Versions 1 and 2 of model "spx" (candidates), registered from a real training run."""
    ids = []
    for c in (1.0, 0.1):  # one training run registers once
        run = train(TrainRequest(kind="logistic", features=FEATURES, params={"C": c}, horizon=5))
        assert run.run_id is not None
        ids.append(registry.register(RegisterRequest(run_id=run.run_id, name="spx")).id)
    return ids[0], ids[1]


def _stages() -> dict[int, str]:
    return {v.id: v.stage for v in registry.list_versions(VersionsRequest(name="spx"))}


def test_list_promote_and_rollback_through_the_api(
    client: TestClient, make_token: MakeToken, two_versions: tuple[int, int]
) -> None:
    v1, v2 = two_versions
    ann, pam = make_token("ann", {"analyst"}), make_token("pam", {"pm"})
    listed = client.get("/api/v1/models", headers=ann.headers)
    assert listed.status_code == 200
    assert listed.json() == {"versions": [v.as_dict() for v in registry.list_versions()]}
    assert [v["version"] for v in listed.json()["versions"]] == [2, 1]
    assert client.get("/api/v1/models", params={"name": "other"}, headers=ann.headers).json() == {
        "versions": []
    }

    denied = client.post("/api/v1/models/promote", json={"version_id": v1}, headers=ann.headers)
    assert denied.status_code == 403 and "'pm' role" in denied.json()["detail"]
    assert _stages() == {v1: "candidate", v2: "candidate"}

    first = client.post(
        "/api/v1/models/promote", json={"version_id": v1, "reason": "first"}, headers=pam.headers
    )
    assert first.status_code == 200, first.text
    assert (first.json()["id"], first.json()["stage"]) == (v1, "champion")
    second = client.post("/api/v1/models/promote", json={"version_id": v2}, headers=pam.headers)
    assert second.json()["stage"] == "champion"
    assert _stages() == {v1: "archived", v2: "champion"}

    back = client.post(
        "/api/v1/models/rollback", json={"name": "spx", "reason": "v2 drifts"}, headers=pam.headers
    )
    assert back.status_code == 200 and back.json()["id"] == v1
    assert _stages() == {v1: "champion", v2: "archived"}
    trail = [(e["action"], e["actor"]) for e in reversed(registry.events("spx"))]
    assert trail[2:] == [
        ("promote", "pam"),
        ("archive", "pam"),
        ("promote", "pam"),
        ("rollback", "pam"),
        ("restore", "pam"),
    ]
    assert registry.events("spx")[0]["reason"] == "v2 drifts"


def test_unknown_versions_and_names_are_404s(client: TestClient, make_token: MakeToken) -> None:
    pam = make_token("pam", {"pm"})
    missing = client.post("/api/v1/models/promote", json={"version_id": 7}, headers=pam.headers)
    assert missing.status_code == 404 and "7" in missing.json()["detail"]
    # An id no database can hold is bad input (its valid range named), not a driver overflow.
    huge = client.post("/api/v1/models/promote", json={"version_id": 2**70}, headers=pam.headers)
    assert huge.status_code == 422, huge.text
    assert huge.json()["fields"][0]["field"] == "version_id"
    assert "at most" in huge.json()["fields"][0]["message"]
    nothing = client.post("/api/v1/models/rollback", json={"name": "none"}, headers=pam.headers)
    assert nothing.status_code == 404 and "no champion" in nothing.json()["detail"]
    empty = client.get("/api/v1/models", params={"name": ""}, headers=pam.headers)
    assert empty.status_code == 422 and empty.json()["fields"][0]["field"] == "name"
    assert client.post("/api/v1/models/rollback", json={"name": "x"}).status_code == 401
