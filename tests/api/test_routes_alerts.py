"""The alert routes over real tokens and the real alerts service: rules and channels saved
with the risk role and audited with the token's user, channel URLs never in clear in any
response, the history as the service lists it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.operations.alerts import AlertLogRequest, AlertTestRequest
from app.services import alerts
from app.services.auth import Actor
from core.store.auth import AuditRepository
from core.store.db import session_scope
from tests.api.conftest import MakeToken

SECRET = "s3cret-pa55word"
URL = f"json://hookuser:{SECRET}@localhost:9/hook"


def test_channels_are_saved_encrypted_and_always_listed_masked(
    client: TestClient, make_token: MakeToken
) -> None:
    rita = make_token("rita", {"risk"})
    saved = client.post(
        "/api/v1/alerts/channels", json={"name": "ops", "url": URL}, headers=rita.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["name"] == "ops" and saved.json()["enabled"] is True
    listed = client.get("/api/v1/alerts/channels", headers=make_token("ann", {"analyst"}).headers)
    assert listed.status_code == 200
    (channel,) = [c for c in listed.json() if c["name"] == "ops"]
    assert channel == saved.json()
    assert channel["url"].startswith("json://") and "****" in channel["url"]
    for response in (saved, listed):
        assert SECRET not in response.text and "hookuser" not in response.text
    assert listed.json() == alerts.list_channels()
    # the audit keeps the token's user, how they came in, and only the mask
    from app.services.db import get_engine

    with session_scope(get_engine()) as session:
        (entry,) = AuditRepository(session).list(limit=10, prefix="alerts.channel")
        assert (entry.actor, entry.action, entry.target) == ("rita", "alerts.channel.save", "ops")
        assert entry.details["via"] == rita.via
        assert SECRET not in str(entry.details)


def test_a_bad_channel_url_is_a_422_that_does_not_echo_it(
    client: TestClient, make_token: MakeToken
) -> None:
    rita = make_token("rita", {"risk"})
    bad = f"notascheme-{SECRET}"
    refused = client.post(
        "/api/v1/alerts/channels", json={"name": "x", "url": bad}, headers=rita.headers
    )
    assert refused.status_code == 422
    assert SECRET not in refused.text and refused.json()["fields"][0]["field"] == "url"
    assert all(c["name"] != "x" for c in alerts.list_channels())


def test_rules_need_the_risk_role_and_existing_channels(
    client: TestClient, make_token: MakeToken
) -> None:
    rita, tom = make_token("rita", {"risk"}), make_token("tom", {"trader"})
    rule = {"name": "dd", "kind": "drawdown", "threshold": 0.1, "severity": "critical"}
    denied = client.post("/api/v1/alerts/rules", json=rule, headers=tom.headers)
    assert denied.status_code == 403 and "'risk' role" in denied.json()["detail"]
    assert client.get("/api/v1/alerts/rules", headers=tom.headers).json() == []

    saved = client.post("/api/v1/alerts/rules", json=rule, headers=rita.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json()["threshold"] == 0.1 and saved.json()["channels"] == ["in-app"]
    listed = client.get("/api/v1/alerts/rules", headers=tom.headers).json()
    assert listed == [r.model_dump(mode="json") for r in alerts.list_rules()]
    assert [(r["name"], r["kind"], r["severity"]) for r in listed] == [
        ("dd", "drawdown", "critical")
    ]

    unknown = {**rule, "name": "dd2", "channels": ["nowhere"]}
    missing = client.post("/api/v1/alerts/rules", json=unknown, headers=rita.headers)
    assert missing.status_code == 422 and "nowhere" in missing.json()["detail"]
    threshold = {**rule, "name": "dd3", "threshold": 5}
    out_of_range = client.post("/api/v1/alerts/rules", json=threshold, headers=rita.headers)
    assert out_of_range.status_code == 422
    assert [r.name for r in alerts.list_rules()] == ["dd"]


def test_history_lists_what_the_service_delivered(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    empty = client.get("/api/v1/alerts/history", headers=ann.headers)
    assert empty.status_code == 200 and empty.json() == {"events": []}
    sender = Actor("tess", frozenset({"trader"}))
    for _ in range(3):
        assert (
            alerts.send_test(AlertTestRequest(channel="in-app"), actor=sender)["status"] == "sent"
        )
    history = client.get("/api/v1/alerts/history", params={"limit": 2}, headers=ann.headers)
    assert history.status_code == 200
    events = history.json()["events"]
    assert len(events) == 2
    assert events == alerts.history(AlertLogRequest(limit=2))
    assert all(e["status"] == "sent" for e in events)
    too_many = client.get("/api/v1/alerts/history", params={"limit": 0}, headers=ann.headers)
    assert too_many.status_code == 422 and too_many.json()["fields"][0]["field"] == "limit"
