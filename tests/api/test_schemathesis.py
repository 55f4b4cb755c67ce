"""Schemathesis over the app's own OpenAPI schema: no operation answers 5xx.

Every operation of ``create_app()``'s schema is exercised in process (ASGI, no port) with
a token holding every role, so role checks pass and the generated inputs reach the
services. Two phases, deterministic:

- coverage, negative only: every boundary and type violation the schema defines (a
  string where an object is due, an out-of-range number, a missing field): a 4xx at
  worst, never a 5xx;
- fuzzing, valid and invalid inputs, a few examples per operation (``max_examples``),
  so valid requests reach the services (a real backtest, a queued job, a stored rule).

The operations share one database for the module (a fresh one, not the developer's),
as a running API would; migrating one per operation would cost more than the requests.
Bounded: no deadline, a generous per-request timeout (a cold backtest compiles its
kernels), and the file runs in about a minute on a 2-core machine at load 10.

Excluded, and why that is safe:

- ``POST /api/v1/paper/start`` starts a detached ``workbench paper run`` process for each
  valid input (a process per example, left running past the test). Its refusals (role,
  options, unknown dataset, a session already running) are the service's, checked by
  tests/api/test_role_matrix.py (wrong role 403, unknown dataset refused without a 5xx)
  and by the paper service's own tests. It is fuzzed on its own below with a token that
  lacks the trader role: every input is parsed and validated as usual, and the valid ones
  are refused (403) before a worker is made. Nothing else is excluded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.api.app import create_app
from tests.api.conftest import ALL_ROLES, ApiToken, create_token

API = create_app()
REQUEST_TIMEOUT_S = 120
"""Per request: a slow answer is not a 5xx (schemathesis' default is 10 s)."""

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",  # valid inputs reach the services; invalid ones must be a 4xx
            "deterministic": True,
            "with-security-parameters": False,  # the fixture's token is the credential
        },
        "phases": {
            "stateful": {"enabled": False},  # one request at a time, no links to follow
            # the positive coverage cases are the fuzzing phase's job, within max_examples
            "coverage": {"generation": {"mode": "negative"}, "unexpected-methods": []},
        },
    }
)
PAPER_START = {"method": "POST", "path": "/api/v1/paper/start"}
schema = schemathesis.openapi.from_dict(API.openapi(), config=CONFIG).exclude(**PAPER_START)
paper_start = schemathesis.openapi.from_dict(API.openapi(), config=CONFIG).include(**PAPER_START)
"""Fuzzed with a token that lacks the trader role: a valid start is refused (403) before a
worker process is made, so no input can leave one running."""

FUZZ = settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def test_the_schema_is_documented_and_loads() -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {operation.label for operation in operations}
    assert len(labels) >= 20, sorted(labels)
    assert "POST /api/v1/paper/start" not in labels  # excluded above, with its reason


@pytest.fixture(scope="module")
def isolated_workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One fresh runtime folder and database for the module (overrides the per-test one)."""
    from core.config import get_settings

    var = tmp_path_factory.mktemp("schemathesis") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_VAR_DIR", str(var))
        patch.delenv("WORKBENCH_DB_URL", raising=False)
        patch.setenv("WORKBENCH_JOBS_AUTOSTART", "0")
        get_settings.cache_clear()
        yield var
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def superuser(isolated_workbench: Path) -> ApiToken:
    """A token with every role and a rate limit no generated burst reaches."""
    from app.operations.auth import MAX_RATE_PER_S

    return create_token("fuzz", ALL_ROLES, rate_per_s=MAX_RATE_PER_S)


@pytest.fixture(scope="module")
def no_trader(isolated_workbench: Path) -> ApiToken:
    """Every role but trader: what paper start is fuzzed with."""
    from app.operations.auth import MAX_RATE_PER_S

    return create_token("fuzz-no-trader", ALL_ROLES - {"trader"}, rate_per_s=MAX_RATE_PER_S)


@schema.parametrize()
@FUZZ
def test_no_operation_answers_5xx(case: schemathesis.Case, superuser: ApiToken) -> None:
    response = case.call(app=API, headers=superuser.headers, timeout=REQUEST_TIMEOUT_S)
    case.validate_response(response, checks=[not_a_server_error])
    assert "Traceback" not in response.text, response.text[:500]


@paper_start.parametrize()
@FUZZ
def test_paper_start_answers_no_5xx_and_starts_nothing_without_the_trader_role(
    case: schemathesis.Case, no_trader: ApiToken
) -> None:
    response = case.call(app=API, headers=no_trader.headers, timeout=REQUEST_TIMEOUT_S)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code in (403, 422), response.text[:500]
