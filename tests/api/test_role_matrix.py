"""The role matrix: every path of the OpenAPI schema x {no token, the wrong role, the right
role}, against the contract's role table (issue 14).

The paths are read from the app's own schema, so a new path cannot escape: one missing
from :data:`ROLE_TABLE` fails :func:`test_every_schema_operation_is_in_the_role_table`
with a message saying where to add it. Each check loops over every operation and reports
all the failing ones at once (one database for the whole matrix keeps the file fast).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ALL_ROLES, ApiToken, MakeToken
from tests.planted_data import volatility_shift_csv

NONE = "no token"
ANY = "any token"
OWNER_OR_PM = "the job's owner or pm"

JOB_OPERATIONS = (
    "sweep",
    "walkforward",
    "train",
    "universe",
    "abtest",
    "ensemble-eval",
    "report",
    "predict",
    "retrain-replay",
    "bench",
    "report-pack",  # building needs any role; its --send needs pm (checked in the service)
)
"""``POST /api/v1/jobs/{op}``: one typed path per long-running operation (the contract)."""

ROLE_TABLE: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): NONE,
    ("GET", "/readyz"): NONE,
    ("GET", "/metrics"): NONE,
    ("GET", "/api/v1/whoami"): ANY,
    ("GET", "/api/v1/datasets"): ANY,
    ("POST", "/api/v1/datasets/validate"): ANY,
    ("POST", "/api/v1/datasets"): "analyst",
    ("POST", "/api/v1/backtest"): ANY,
    **{("POST", f"/api/v1/jobs/{op}"): ANY for op in JOB_OPERATIONS},
    ("GET", "/api/v1/jobs"): ANY,
    ("GET", "/api/v1/jobs/{job_id}"): OWNER_OR_PM,
    ("GET", "/api/v1/jobs/{job_id}/result"): OWNER_OR_PM,
    ("POST", "/api/v1/jobs/{job_id}/cancel"): OWNER_OR_PM,
    ("GET", "/api/v1/regimes"): ANY,
    ("GET", "/api/v1/models"): ANY,
    ("POST", "/api/v1/models/promote"): "pm",
    ("POST", "/api/v1/models/rollback"): "pm",
    ("POST", "/api/v1/predictions"): ANY,
    ("POST", "/api/v1/predictions/batch"): ANY,
    ("GET", "/api/v1/risk/limits"): ANY,
    ("PUT", "/api/v1/risk/limits"): "risk",
    ("POST", "/api/v1/risk/check"): ANY,
    ("GET", "/api/v1/paper/status"): ANY,
    ("POST", "/api/v1/paper/start"): "trader",
    ("POST", "/api/v1/paper/pause"): "trader",
    ("POST", "/api/v1/paper/resume"): "trader",
    ("POST", "/api/v1/paper/kill"): "trader",
    ("GET", "/api/v1/alerts/rules"): ANY,
    ("POST", "/api/v1/alerts/rules"): "risk",
    ("GET", "/api/v1/alerts/channels"): ANY,
    ("POST", "/api/v1/alerts/channels"): "risk",
    ("GET", "/api/v1/alerts/history"): ANY,
}
"""Who may call each operation of the API (issue 14's contract). A new path goes here."""

UNLISTED_PUBLIC = ("/docs", "/openapi.json")
"""Served without a token and not operations of the schema."""

Operation = tuple[str, str]
SMALL = "small"
"""A 320-bar upload (``uploads/small``) that the regimes and the backtest read quickly."""


def _csv() -> bytes:
    return volatility_shift_csv(7, n=80, shift=40)


def _request_kwargs(operation: Operation) -> dict[str, Any]:
    """A request that passes the request model, so a role check (in the service, after
    validation) is what answers, not a 422; for the right role, it fails after the role
    check or queues a job (no worker runs), with no side effect beyond the database (no
    paper worker is started: the dataset does not exist)."""
    csv = ("prices.csv", _csv(), "text/csv")
    bodies: dict[Operation, dict[str, Any]] = {
        ("POST", "/api/v1/datasets"): {"files": {"file": csv}, "data": {"name": "matrix"}},
        ("POST", "/api/v1/datasets/validate"): {"files": {"file": csv}},
        ("POST", "/api/v1/models/promote"): {"json": {"version_id": 987654, "reason": "matrix"}},
        ("POST", "/api/v1/models/rollback"): {"json": {"name": "no-such-model", "reason": "m"}},
        ("PUT", "/api/v1/risk/limits"): {
            "json": {"values": {"max_drawdown": 0.2}, "reason": "role matrix"}
        },
        ("POST", "/api/v1/paper/start"): {
            "json": {"session": "matrix", "dataset": "no-such-dataset"}
        },
        ("POST", "/api/v1/paper/pause"): {"json": {"reason": "role matrix"}},
        ("POST", "/api/v1/paper/resume"): {"json": {"reason": "role matrix"}},
        ("POST", "/api/v1/paper/kill"): {"json": {"reason": "role matrix", "flatten": False}},
        ("POST", "/api/v1/alerts/channels"): {
            "json": {"name": "matrix", "url": "json://u:matrix-secret@127.0.0.1:1/hook"}
        },
        ("POST", "/api/v1/alerts/rules"): {
            "json": {
                "name": "matrix_rule",
                "kind": "drawdown",
                "threshold": 0.1,
                "channels": ["in-app"],
            }
        },
        ("POST", "/api/v1/risk/check"): {"json": {"symbol": "AAPL", "qty": 1}},
        ("GET", "/api/v1/regimes"): {"params": {"dataset": "uploads", "symbols": [SMALL]}},
        ("POST", "/api/v1/backtest"): {"json": {"dataset": "uploads", "symbol": SMALL}},
        ("POST", "/api/v1/jobs/sweep"): {
            "json": {"symbol": "SP500", "grid": {"fast": {"start": 10, "stop": 20, "step": 10}}}
        },
        ("POST", "/api/v1/jobs/abtest"): {"json": {"arms": ["buy_and_hold", "ma_crossover"]}},
        ("POST", "/api/v1/jobs/predict"): {"json": {"model": 1, "symbols": ["SP500"]}},
        ("POST", "/api/v1/jobs/walkforward"): {"json": {"model": "logistic", "folds": 2}},
        # no model is registered: valid requests that the service answers 404
        ("POST", "/api/v1/predictions"): {"json": {"model": "none@champion", "symbol": "SP500"}},
        ("POST", "/api/v1/predictions/batch"): {
            "json": {"model": "none@champion", "symbols": ["SP500", "AAPL"]}
        },
    }
    if operation in bodies:
        return bodies[operation]
    return {"json": {}} if operation[0] in {"POST", "PUT", "PATCH"} else {}


def _schema_operations(client: TestClient) -> list[Operation]:
    response = client.get("/openapi.json")
    assert response.status_code == 200, response.text
    methods = {"get", "put", "post", "delete", "patch"}
    return sorted(
        (method.upper(), path)
        for path, item in response.json()["paths"].items()
        for method in item
        if method in methods
    )


def _url(path: str, job_id: int) -> str:
    url = path.replace("{job_id}", str(job_id))
    assert "{" not in url, f"{path}: give the role matrix a value for its path parameter"
    return url


def _call(client: TestClient, operation: Operation, token: ApiToken | None, job_id: int) -> Any:
    method, path = operation
    headers = token.headers if token else {}
    return client.request(method, _url(path, job_id), headers=headers, **_request_kwargs(operation))


def _describe(operation: Operation, response: Any, who: str) -> str:
    return f"{operation[0]} {operation[1]} ({who}): {response.status_code} {response.text[:300]}"


@pytest.fixture
def job_id(make_token: MakeToken) -> int:
    """A queued job of user ``olga`` (no worker runs in tests, so it stays queued)."""
    from app.operations.backtest import ReportRequest
    from app.services.auth import Actor
    from app.services.jobs import submit

    return submit("report", ReportRequest(), actor=Actor("olga", frozenset({"analyst"})))


def test_every_schema_operation_is_in_the_role_table(client: TestClient) -> None:
    operations = _schema_operations(client)
    missing = [f"{m} {p}" for m, p in operations if (m, p) not in ROLE_TABLE]
    assert not missing, (
        f"operations of the OpenAPI schema missing from the role matrix: {missing}; add each "
        "to ROLE_TABLE in tests/api/test_role_matrix.py with the role it needs (NONE, ANY, "
        "OWNER_OR_PM or a role name), as the issue 14 contract's path table says"
    )
    served = set(operations) | {("GET", "/metrics")}  # /metrics may be left out of the docs
    absent = sorted(f"{m} {p}" for m, p in ROLE_TABLE if (m, p) not in served)
    assert not absent, f"paths of the contract the API does not serve: {absent}"
    assert len(operations) >= 20, f"only {len(operations)} documented operations (want >= 20)"


def test_public_paths_need_no_token(client: TestClient) -> None:
    public = [op for op, need in ROLE_TABLE.items() if need == NONE]
    public += [("GET", path) for path in UNLISTED_PUBLIC]
    failures = []
    for operation in public:
        response = client.request(*operation)
        if response.status_code >= 400 and not (
            operation[1] == "/readyz" and response.status_code == 503
        ):
            failures.append(_describe(operation, response, "no token"))
    assert not failures, "\n".join(failures)


def test_without_a_valid_token_every_api_path_is_401(client: TestClient, job_id: int) -> None:
    guarded = sorted(op for op, need in ROLE_TABLE.items() if need != NONE)
    failures = []
    for operation in guarded:
        method, path = operation
        for who, headers in (
            ("no token", {}),
            ("an unknown token", {"Authorization": "Bearer wbt_not-a-real-token"}),
            ("not a bearer token", {"Authorization": "Basic dXNlcjpwYXNz"}),
        ):
            kwargs = _request_kwargs(operation)
            response = client.request(method, _url(path, job_id), headers=headers, **kwargs)
            if (
                response.status_code != 401
                or not response.headers.get("www-authenticate", "").startswith("Bearer")
                or response.headers.get("content-type", "").split(";")[0] != "application/json"
                or response.json().get("error") != "unauthorized"
                or not response.json().get("detail")
            ):
                failures.append(_describe(operation, response, who))
    assert not failures, (
        "want 401 with a JSON body {error: unauthorized, detail} and WWW-Authenticate: "
        "Bearer:\n" + "\n".join(failures)
    )


def test_role_gated_writes_refuse_the_wrong_role_and_accept_the_right_one(
    client: TestClient, make_token: MakeToken, job_id: int
) -> None:
    gated = sorted(op for op, need in ROLE_TABLE.items() if need in ALL_ROLES)
    failures = []
    for operation in gated:
        role = ROLE_TABLE[operation]
        wrong = make_token(f"not-{role}", ALL_ROLES - {role})
        response = _call(client, operation, wrong, job_id)
        if response.status_code != 403 or response.json().get("error") != "forbidden":
            failures.append(_describe(operation, response, f"every role but {role}"))
        elif role not in response.json().get("detail", ""):
            failures.append(_describe(operation, response, "403 must name the role it needs"))
        right = make_token(f"only-{role}", {role})
        response = _call(client, operation, right, job_id)
        if response.status_code in (401, 403) or response.status_code >= 500:
            failures.append(_describe(operation, response, f"only {role}"))
    assert not failures, "\n".join(failures)


@pytest.fixture
def small_dataset() -> str:
    """``uploads/small``, imported through the data service."""
    from app.services.data import import_upload

    import_upload(SMALL, "small.csv", volatility_shift_csv(11, n=320, shift=160))
    return SMALL


def test_any_token_may_call_the_open_paths(
    client: TestClient, make_token: MakeToken, job_id: int, small_dataset: str
) -> None:
    # Two tokens with disjoint roles: a path that wrongly needs any one role refuses one.
    tokens = [make_token("tess", {"trader", "risk"}), make_token("adam", {"analyst", "pm"})]
    open_paths = sorted(op for op, need in ROLE_TABLE.items() if need == ANY)
    failures = []
    for operation in open_paths:
        for token in tokens:
            response = _call(client, operation, token, job_id)
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(
                    _describe(operation, response, f"{token.user} {sorted(token.roles)}")
                )
    assert not failures, "\n".join(failures)


def test_jobs_are_the_owners_or_a_pms(
    client: TestClient, make_token: MakeToken, job_id: int
) -> None:
    owner = make_token("olga", {"analyst"})
    stranger = make_token("bob", {"analyst", "risk", "trader"})
    manager = make_token("pat", {"pm"})
    job_paths = sorted(
        (op for op, need in ROLE_TABLE.items() if need == OWNER_OR_PM),
        key=lambda op: op[1].endswith("/cancel"),  # cancel last: reading first
    )
    failures = []
    for operation in job_paths:
        response = _call(client, operation, stranger, job_id)
        if response.status_code != 403 or response.json().get("error") != "forbidden":
            failures.append(_describe(operation, response, "another user without pm"))
        for token in (manager, owner):
            response = _call(client, operation, token, job_id)
            if response.status_code in (401, 403) or response.status_code >= 500:
                failures.append(_describe(operation, response, token.user))
    assert not failures, "\n".join(failures)
