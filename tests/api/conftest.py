"""Fixtures of the API tests: tokens made through the real tokens service, the app in
process (``TestClient(create_app())``) and the contract's role table.

Every test has its own runtime folder and SQLite database (the autouse fixture of
``tests/conftest.py``); a token made here is stored in that database, so the in-process
app and a ``workbench api`` process started on the same folder (:func:`tests.api.server.live_api`)
both accept it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

ALL_ROLES: frozenset[str] = frozenset({"analyst", "pm", "risk", "trader"})


@dataclass(frozen=True)
class ApiToken:
    """A personal access token for the API, as ``workbench tokens create`` makes it."""

    id: int
    user: str
    roles: frozenset[str]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that present this token."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def via(self) -> str:
        """What the audit keeps about how the user came in."""
        return f"api token {self.id}"


MakeToken = Callable[..., ApiToken]


def create_token(
    user: str, roles: frozenset[str] | set[str], *, rate_per_s: float | None = None
) -> ApiToken:
    """A token for ``user`` with ``roles`` through the ``tokens create`` operation, as
    ``workbench tokens create --user U --roles R`` runs it (local mode: the operator on
    this machine provisions any user with any roles)."""
    from app.operations import get
    from app.operations.auth import ApiTokenCreateRequest
    from app.services.auth import LOCAL

    request = ApiTokenCreateRequest(user=user, roles=",".join(sorted(roles)), rate_per_s=rate_per_s)
    made = get("tokens create").run(request, actor=LOCAL)
    return ApiToken(made.id, user, frozenset(roles), made.token)


@pytest.fixture
def make_token() -> MakeToken:
    """``make_token(user, roles, rate_per_s=None)``: a new live token in this test's DB."""
    return create_token


@pytest.fixture
def client() -> Iterator[TestClient]:
    """The API in process, on this test's database (no port, no process)."""
    from app.api.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client
