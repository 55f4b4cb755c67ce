"""Writes through the API leave the same audit trail as the pages and the CLI, naming the
token's user: the audit log (with ``"via": "api token N"``), the risk limits' versions
(``changed_by``), the registry's events (``actor``) and the jobs' owners.

The API runs in process on this test's database; what it stored is read back through the
services and repositories, never through the API itself.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import MakeToken

SMALL_FEATURES = ["ret_1", "rsi_14"]


def _audit(prefix: str) -> list[Any]:
    from app.services.db import get_engine
    from core.store.auth import AuditRepository
    from core.store.db import session_scope

    with session_scope(get_engine()) as session:
        rows = AuditRepository(session).list(prefix=prefix)
        return [
            (row.actor, sorted(row.roles), row.action, row.target, dict(row.details))
            for row in rows
        ]


def test_alert_writes_are_audited_as_the_tokens_user_via_the_token(
    client: TestClient, make_token: MakeToken
) -> None:
    rita = make_token("rita", {"risk"})
    url = "json://u:secret-part@127.0.0.1:1/hook"
    response = client.post(
        "/api/v1/alerts/channels", headers=rita.headers, json={"name": "desk", "url": url}
    )
    assert response.status_code == 200, response.text
    response = client.post(
        "/api/v1/alerts/rules",
        headers=rita.headers,
        json={"name": "dd_10", "kind": "drawdown", "threshold": 0.1, "channels": ["desk"]},
    )
    assert response.status_code == 200, response.text

    entries = _audit("alerts.")
    assert [(e[0], e[1], e[2], e[3]) for e in entries] == [
        ("rita", ["risk"], "alerts.rule.save", "dd_10"),
        ("rita", ["risk"], "alerts.channel.save", "desk"),
    ]
    for *_, details in entries:
        assert details["via"] == rita.via
    channel_details = entries[1][4]
    assert "secret-part" not in str(channel_details)  # the audit keeps the mask only
    assert entries[0][4]["rule"]["threshold"] == 0.1


def test_risk_limit_changes_name_the_tokens_user(client: TestClient, make_token: MakeToken) -> None:
    from app.services import risk

    rita = make_token("rita", {"risk"})
    response = client.put(
        "/api/v1/risk/limits",
        headers=rita.headers,
        json={"values": {"max_drawdown": 0.12}, "reason": "tighter after review"},
    )
    assert response.status_code == 200, response.text
    (change,) = risk.history()
    assert (change.version, change.changed_by, change.role, change.reason) == (
        1,
        "rita",
        "risk",
        "tighter after review",
    )
    assert change.limits["max_drawdown"] == 0.12
    assert response.json()["changed_by"] == "rita"


def test_promote_and_rollback_through_the_api_name_the_tokens_user(
    client: TestClient, make_token: MakeToken
) -> None:
    from app.operations.registry import RegisterRequest
    from app.operations.training import TrainRequest
    from app.services import registry
    from app.services.training import train

    versions = []
    for c in (1.0, 0.05):
        run = train(
            TrainRequest(kind="logistic", features=SMALL_FEATURES, params={"C": c}, horizon=5)
        )
        assert run.run_id is not None
        versions.append(registry.register(RegisterRequest(run_id=run.run_id, name="api-audit")))
    pat = make_token("pat", {"pm"})
    for version in versions:
        response = client.post(
            "/api/v1/models/promote",
            headers=pat.headers,
            json={"version_id": version.id, "reason": f"v{version.version} via api"},
        )
        assert response.status_code == 200, response.text
    response = client.post(
        "/api/v1/models/rollback",
        headers=pat.headers,
        json={"name": "api-audit", "reason": "v2 misbehaves"},
    )
    assert response.status_code == 200, response.text

    events = [e for e in registry.events("api-audit") if e["action"] != "register"]
    assert [
        (e["actor"], e["version_id"], e["reason"]) for e in events if e["to"] == "champion"
    ] == [
        ("pat", versions[0].id, "v2 misbehaves"),
        ("pat", versions[1].id, "v2 via api"),
        ("pat", versions[0].id, "v1 via api"),
    ]
    assert {e["actor"] for e in events} == {"pat"}


def test_jobs_submitted_through_the_api_belong_to_the_tokens_user(
    client: TestClient, make_token: MakeToken
) -> None:
    from app.services.jobs import get_job

    ann = make_token("ann", {"analyst"})
    response = client.post("/api/v1/jobs/report", headers=ann.headers, json={})
    assert response.status_code == 202, response.text
    assert get_job(response.json()["job_id"]).owner == "ann"


def test_whoami_says_which_token(client: TestClient, make_token: MakeToken) -> None:
    ann = make_token("ann", {"analyst", "pm"})
    response = client.get("/api/v1/whoami", headers=ann.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"user": "ann", "roles": ["analyst", "pm"], "via": ann.via}
