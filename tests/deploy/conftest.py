"""A live workbench for the client and the notebook: a real ``workbench api`` process and
a real ``workbench jobs worker`` on one runtime folder and SQLite file, with tokens made
by the tokens service (as ``workbench tokens create`` makes them)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.api.server import live_api
from tests.cli_helpers import ROOT, start_worker

CLIENT_PATH = ROOT / "clients" / "python"
ROLES = ("analyst", "pm", "risk", "trader")


@dataclass
class Stack:
    """The API's URL, its runtime folder and environment, and a token per role."""

    url: str
    var: Path
    env: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    token_ids: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def inside(self) -> Iterator[None]:
        """This process uses the stack's folder and database inside the block."""
        from core.config import environ_set, get_settings

        get_settings.cache_clear()
        with environ_set({k: self.env[k] for k in ("WORKBENCH_VAR_DIR", "WORKBENCH_DB_URL")}):
            try:
                yield
            finally:
                get_settings.cache_clear()

    def make_token(self, user: str, roles: str, *, rate_per_s: float | None = None) -> str:
        """A new token through the ``tokens create`` operation (local mode: the operator
        provisions any user with any roles); returns the token, shown once."""
        from app.operations import get
        from app.operations.auth import ApiTokenCreateRequest
        from app.services.auth import LOCAL

        request = ApiTokenCreateRequest(user=user, roles=roles, rate_per_s=rate_per_s)
        with self.inside():
            made = get("tokens create").run(request, actor=LOCAL)
        self.token_ids[made.token] = made.id
        return str(made.token)

    def register_model(self, run_id: int, name: str) -> int:
        """Register a training run's model (``workbench registry register``: no API path
        registers); returns the version id."""
        from app.operations import get
        from app.operations.registry import RegisterRequest
        from app.services.auth import LOCAL

        with self.inside():
            row = get("registry register").run(
                RegisterRequest(run_id=run_id, name=name), actor=LOCAL
            )
        return int(row.id)


@contextmanager
def running_stack(var: Path, *, worker: bool) -> Iterator[Stack]:
    """The API (and, with ``worker``, a jobs worker running sweep and train jobs serially)
    on ``var``; a token per role (user ``ana`` with every role as ``all``)."""
    var.mkdir(parents=True, exist_ok=True)
    env: Mapping[str, str] = {
        "WORKBENCH_VAR_DIR": str(var),
        "WORKBENCH_DB_URL": f"sqlite:///{var / 'workbench.db'}",
        "WORKBENCH_JOBS_AUTOSTART": "0",
        "WORKBENCH_EXECUTOR": "serial",  # small grids: no LocalCluster to start
    }
    with live_api(var, env=dict(env)) as api:
        stack = Stack(api.url, var, {**os.environ, **env})
        for role in ROLES:
            stack.tokens[role] = stack.make_token(f"{role}-user", role)
        stack.tokens["all"] = stack.make_token("ana", ",".join(ROLES))
        process: subprocess.Popen[bytes] | None = None
        if worker:
            # Sweeps and training only: a job of another kind stays queued (to cancel).
            kinds = ("--kinds", "sweep,train")
            process = start_worker("--no-warm", *kinds, env=stack.env, log=var / "worker.log")
        try:
            yield stack
        finally:
            errors = var / "logs" / "api.log"  # internal errors, by error id (shown on failure)
            if errors.is_file():
                print(errors.read_text()[-20_000:])
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One live API and jobs worker for the client's and the notebook's tests (per
    pytest-xdist worker); each test makes its own tokens, sessions and model names."""
    with running_stack(tmp_path_factory.mktemp("stack") / "var", worker=True) as live:
        yield live
