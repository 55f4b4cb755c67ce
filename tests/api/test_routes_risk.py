"""The risk routes over real tokens and the real risk service: limits read and changed with
an optimistic lock (stale version -> 409), audited with the token's user; the pre-trade
check gives the service's own decision."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.operations.risk import RiskCheckRequest, check_payload
from app.services import risk
from core.risk import RiskLimits
from tests.api.conftest import MakeToken

LIMITS = "/api/v1/risk/limits"


def test_limits_put_then_get_shows_the_new_version_audited_with_the_token_user(
    client: TestClient, make_token: MakeToken
) -> None:
    rita = make_token("rita", {"risk"})
    shown = client.get(LIMITS, headers=rita.headers)
    assert shown.status_code == 200
    assert shown.json() == {"version": 0, "limits": RiskLimits().model_dump(mode="json")}

    change = {"values": {"max_weight_per_asset": 0.2}, "reason": "tighter", "expected_version": 0}
    put = client.put(LIMITS, json=change, headers=rita.headers)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "version": 1,
        "changes": {"max_weight_per_asset": [0.25, 0.2]},
        "changed_by": "rita",
    }
    after = client.get(LIMITS, headers=rita.headers).json()
    assert after["version"] == 1 and after["limits"]["max_weight_per_asset"] == 0.2
    assert after["limits"]["max_drawdown"] == RiskLimits().max_drawdown  # the others kept
    (latest, *_) = risk.history()
    assert (latest.version, latest.changed_by, latest.reason) == (1, "rita", "tighter")


def test_a_stale_expected_version_is_a_409_naming_the_current_version(
    client: TestClient, make_token: MakeToken
) -> None:
    rita, ross = make_token("rita", {"risk"}), make_token("ross", {"risk"})
    first = {"values": {"max_drawdown": 0.1}, "reason": "first", "expected_version": 0}
    assert client.put(LIMITS, json=first, headers=rita.headers).status_code == 200
    stale = {"values": {"max_drawdown": 0.12}, "reason": "late", "expected_version": 0}
    refused = client.put(LIMITS, json=stale, headers=ross.headers)
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "conflict"
    assert "now version 1" in body["detail"] and "rita" in body["detail"]
    assert risk.current_limits()[0] == 1  # nothing stored
    assert risk.current_limits()[1].max_drawdown == 0.1


def test_changing_limits_needs_the_risk_role_and_valid_values(
    client: TestClient, make_token: MakeToken
) -> None:
    trader = make_token("tom", {"trader", "analyst"})
    change = {"values": {"max_drawdown": 0.1}, "reason": "x"}
    denied = client.put(LIMITS, json=change, headers=trader.headers)
    assert denied.status_code == 403 and "'risk' role" in denied.json()["detail"]
    assert client.put(LIMITS, json=change).status_code == 401
    rita = make_token("rita", {"risk"})
    bad = {"values": {"max_drawdown": 5}, "reason": "x"}
    invalid = client.put(LIMITS, json=bad, headers=rita.headers)
    assert invalid.status_code == 422 and "max_drawdown" in invalid.json()["detail"]
    unknown = client.put(LIMITS, json={"values": {"bogus": 1}, "reason": "x"}, headers=rita.headers)
    assert unknown.status_code == 422 and "bogus" in unknown.json()["detail"]
    assert risk.current_limits()[0] == 0


def test_the_check_gives_the_services_decision_under_the_limits_in_force(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    rita = make_token("rita", {"risk"})
    order = {"symbol": "SP500", "qty": 30, "side": "buy"}
    before = client.post("/api/v1/risk/check", json=order, headers=ann.headers)
    assert before.status_code == 200, before.text
    assert before.json() == check_payload(risk.check_order(RiskCheckRequest(**order)))
    assert before.json()["limits_version"] == 0

    change = {"values": {"max_weight_per_asset": 0.2}, "reason": "tighter"}
    assert client.put(LIMITS, json=change, headers=rita.headers).status_code == 200
    after = client.post("/api/v1/risk/check", json=order, headers=ann.headers).json()
    assert after["limits_version"] == 1
    # a 100k empty account: 20% of equity at the latest close, whole shares
    assert after["allowed_quantity"] == int(0.2 * after["equity"] / after["price"])
    assert after["allowed_quantity"] < 30 and after["approved"]


def test_the_check_names_an_unknown_session_symbol_or_dataset(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    check = "/api/v1/risk/check"
    session = client.post(
        check, json={"symbol": "SP500", "qty": 1, "session": "nope"}, headers=ann.headers
    )
    assert session.status_code == 404 and "nope" in session.json()["detail"]
    symbol = client.post(check, json={"symbol": "NOPE", "qty": 1}, headers=ann.headers)
    assert symbol.status_code == 422 and "NOPE" in symbol.json()["detail"]
    dataset = client.post(
        check, json={"symbol": "SP500", "qty": 1, "dataset": "nope"}, headers=ann.headers
    )
    assert dataset.status_code == 422 and "nope" in dataset.json()["detail"]
    qty = client.post(check, json={"symbol": "SP500", "qty": 0}, headers=ann.headers)
    assert qty.status_code == 422 and qty.json()["fields"][0]["field"] == "qty"
