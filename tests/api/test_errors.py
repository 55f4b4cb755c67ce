"""Error bodies of the API: one JSON shape, plain sentences, never a traceback.

Bad bodies on a real route (``POST /api/v1/backtest``, validated with the operation's own
request model) give 422 with one plain sentence per field, named by its label, with the
valid range; random bad bodies never give a 500. Each exception a route may raise maps to
its status; an unexpected one gives a 500 whose body carries only an error id, which the
log (``var_dir/logs/api.log``) holds with the traceback. The failing routes are added to
the real app by the test (``create_app()`` plus one route each).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.api.errors import Conflict, NotFound
from tests.api.conftest import ApiToken, MakeToken, create_token

BACKTEST = "/api/v1/backtest"
PARAMS = {"fast": 5, "slow": 20}


@pytest.fixture
def ann(make_token: MakeToken) -> ApiToken:
    return make_token("ann", {"analyst"}, rate_per_s=100_000)


def _invalid(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request" and body["fields"], body
    assert body["detail"] == " ".join(f["message"] for f in body["fields"])
    return list(body["fields"])


def test_bad_fields_get_a_plain_sentence_each_with_label_and_range(
    client: TestClient, ann: ApiToken
) -> None:
    body = {
        "params": PARAMS,
        "regime_min_prob": 2,
        "regime_train_bars": "many",
        "start": "2020-13-01",
        "fee_bps": 1,
    }
    fields = _invalid(client.post(BACKTEST, headers=ann.headers, json=body))
    assert {f["field"]: (f["label"], f["message"]) for f in fields} == {
        "regime_min_prob": ("Min probability", "Min probability must be at most 1."),
        "regime_train_bars": (
            "Regime training bars",
            "Regime training bars must be a whole number.",
        ),
        "start": ("First date", "First date must be a date written YYYY-MM-DD."),
        "fee_bps": ("Fee bps", "Fee bps is not a setting of this form; remove it."),
    }
    (only,) = _invalid(client.post(BACKTEST, headers=ann.headers, json={"params": "x"}))
    assert only == {
        "field": "params",
        "label": "Strategy parameters",
        "message": "Strategy parameters must be a JSON object.",
    }
    (whole,) = _invalid(client.post(BACKTEST, headers=ann.headers, json=[1, 2]))
    assert whole["message"] == "The request body must be a JSON object."
    (missing,) = _invalid(client.post(BACKTEST, headers=ann.headers))
    assert missing["message"] == "The request body is required."
    raw = client.post(
        BACKTEST, headers={**ann.headers, "Content-Type": "application/json"}, content=b"{oops"
    )
    (broken,) = _invalid(raw)
    assert broken["message"].startswith("The request body is not valid JSON")


def test_a_services_value_error_is_a_422_with_its_message(
    client: TestClient, ann: ApiToken
) -> None:
    body = {"symbol": "NOPE", "params": PARAMS}
    (problem,) = _invalid(client.post(BACKTEST, headers=ann.headers, json=body))
    assert problem["message"].startswith("Dataset 'ohlcv_daily' has no symbol 'NOPE'")
    assert "SP500" in problem["message"]  # what to choose instead


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
_FIELDS = ["dataset", "symbol", "strategy", "params", "start", "end", "regime_mode", "regimes"]
_BAD_TRAIN_BARS = st.one_of(st.integers(max_value=99), st.integers(min_value=5001), st.text())


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    extra=st.dictionaries(st.sampled_from(_FIELDS) | st.text(max_size=6), _JSON, max_size=5),
    bad=_BAD_TRAIN_BARS,
    whole=st.none() | _JSON,
)
def test_random_bad_bodies_never_give_a_500(
    client: TestClient, ann: ApiToken, extra: dict[str, Any], bad: Any, whole: Any
) -> None:
    # Every body is invalid (a bad regime_train_bars, or not an object), so nothing runs.
    body = (
        {**extra, "regime_train_bars": bad} if whole is None or isinstance(whole, dict) else whole
    )
    response = client.post(BACKTEST, headers=ann.headers, json=body)
    for problem in _invalid(response):
        assert not str(problem["field"] or "").startswith(("body", "query"))
        assert problem["message"].endswith(".") and "Traceback" not in problem["message"]


def _app_with(route: Any) -> FastAPI:
    """The real app plus one test route at /fail."""
    from app.api.app import create_app

    api = create_app()
    api.add_api_route("/fail", route, methods=["GET"])
    return api


def _raise(exc: BaseException) -> Any:
    def route() -> None:
        raise exc

    return route


def _defect_error() -> Exception:
    from core.data.validation import DataValidationError, Defect

    defect = Defect("duplicate_dates", "2 dates appear twice; keep one row each", "date", ["3"])
    return DataValidationError([defect], source="prices.csv")


def _model_error() -> Exception:
    from app.operations.risk import LimitsChangeRequest

    try:
        LimitsChangeRequest.model_validate({"values": {}, "reason": "", "expected_version": -1})
    except Exception as exc:
        return exc
    raise AssertionError("the request should be invalid")


@pytest.mark.parametrize(
    ("exc", "status", "code", "detail"),
    [
        (Conflict("the limits changed: version 3 is current"), 409, "conflict", "version 3"),
        (NotFound("no job 7"), 404, "not_found", "no job 7"),
        (KeyError("no model 'x'"), 404, "not_found", "no model 'x'"),
        (PermissionError("needs the 'pm' role"), 403, "forbidden", "needs the 'pm' role"),
        (ValueError("stop must be below 1"), 422, "invalid_request", "Stop must be below 1."),
        (HTTPException(413, "the upload is over 50 MB"), 413, "too_large", "over 50 MB"),
        (HTTPException(418, "teapot"), 418, "error", "teapot"),
    ],
)
def test_each_exception_maps_to_its_status_and_json_shape(
    exc: Exception, status: int, code: str, detail: str
) -> None:
    response = TestClient(_app_with(_raise(exc))).get("/fail")
    assert response.status_code == status
    body = response.json()
    assert body["error"] == code and detail in body["detail"], body


def test_datasets_defects_data_sources_and_model_errors_are_422() -> None:
    from core.data.loaders import DataSourceError

    body = TestClient(_app_with(_raise(_defect_error()))).get("/fail").json()
    assert body["error"] == "invalid_request" and "prices.csv: 1 problem(s)" in body["detail"]
    assert body["defects"] == [
        {
            "code": "duplicate_dates",
            "message": "2 dates appear twice; keep one row each",
            "column": "date",
            "rows": ["3"],
        }
    ]
    offline = DataSourceError("Yahoo did not answer within 10 s; try again or use a file")
    response = TestClient(_app_with(_raise(offline))).get("/fail")
    assert response.status_code == 422 and "Yahoo did not answer" in response.json()["detail"]
    fields = _invalid(TestClient(_app_with(_raise(_model_error()))).get("/fail"))
    assert {f["field"] for f in fields} >= {"expected_version"}
    assert all("Input should" not in f["message"] for f in fields)


def test_unknown_paths_and_methods_get_the_same_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nowhere")
    assert response.status_code in (401, 404)  # the prefix is guarded, or unknown
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "no such path: GET /nowhere; see /docs for the paths",
    }
    response = client.delete("/healthz")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_an_internal_error_returns_only_an_id_that_the_log_holds(
    isolated_workbench: Path,
) -> None:
    def broken() -> None:
        secret = {"key": "sk-do-not-show"}
        raise RuntimeError(f"internal state {json.dumps(secret)}")

    response = TestClient(_app_with(broken), raise_server_exceptions=False).get("/fail")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == {"error", "detail", "error_id"} and body["error"] == "internal"
    error_id = body["error_id"]
    assert re.fullmatch(r"[0-9a-f]{12}", error_id)
    assert body["detail"] == f"an internal error; quote error id {error_id} to the operator"
    assert "Traceback" not in response.text and "sk-do-not-show" not in response.text
    log = (isolated_workbench / "logs" / "api.log").read_text()
    entry = log[log.index(f"error_id={error_id}") :]
    assert "GET /fail: RuntimeError" in entry and "Traceback" in entry
    assert "sk-do-not-show" in entry  # the operator sees the cause
    # Two failures, two ids.
    again = TestClient(_app_with(broken), raise_server_exceptions=False).get("/fail").json()
    assert (
        again["error_id"] != error_id
        and f"error_id={again['error_id']}" in (isolated_workbench / "logs" / "api.log").read_text()
    )


def test_run_operation_returns_the_clis_json_payload(isolated_workbench: Path) -> None:
    from app.api.ops import run_operation
    from app.operations.risk import LimitsChangeRequest
    from app.services.auth import Actor

    rita = create_token("rita", {"risk"})
    actor = Actor(rita.user, rita.roles, via=rita.via)
    request = LimitsChangeRequest(values={"max_weight_per_asset": 0.2}, reason="tighten")
    payload = run_operation("risk limits set", request, actor)
    assert payload["version"] == 1 and payload["changed_by"] == "rita"
    assert payload["changes"]["max_weight_per_asset"][1] == 0.2
    json.dumps(payload, allow_nan=False)  # plain JSON, as the response sends it
    # A dict is validated into the operation's own request model.
    again = run_operation(
        "risk limits set",
        {"values": {"max_weight_per_asset": 0.3}, "reason": "again", "expected_version": 1},
        actor,
    )
    assert again["version"] == 2
