"""``workbench jobs`` and ``--async`` from a shell, with a real worker process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.operations.sweep import SweepRequest
from app.services import jobs
from core.config import get_settings
from core.sweep import GridAxis
from tests.cli_helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
WORKBENCH = Path(sys.executable).with_name("workbench")
pytestmark = pytest.mark.timeout(600)
SWEEP = ["sweep", "--symbol", "SP500", "--grid", "fast=5:20:5", "--grid", "slow=30:60:10"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    monkeypatch.setenv("WORKBENCH_DB_URL", url)
    get_settings.cache_clear()
    yield {"WORKBENCH_DB_URL": url}
    get_settings.cache_clear()


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def _numbers(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in ("seconds", "run_id")}


def test_async_sweep_then_jobs_wait_from_a_shell_with_a_real_worker(
    env: dict[str, str], isolated_workbench: Path, tmp_path: Path
) -> None:
    var = isolated_workbench
    direct = _json(run_cli(*SWEEP, "--json", var=var, env=env))
    submitted = run_cli(*SWEEP, "--async", "--json", var=var, env=env)
    assert submitted.returncode == 0, submitted.stderr
    ticket = _json(submitted)
    assert ticket == {"job_id": ticket["job_id"], "status": "queued"}
    queued = jobs.get_job(ticket["job_id"])
    grid = {"fast": GridAxis.parse("5:20:5"), "slow": GridAxis.parse("30:60:10")}
    assert (queued.kind, queued.status, queued.owner) == ("sweep", "queued", "local")
    assert queued.spec == SweepRequest(symbol="SP500", grid=grid).model_dump(mode="json")

    log = (tmp_path / "worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "jobs", "worker", "--poll", "0.2"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=log,
    )
    try:
        waited = subprocess.run(
            ["bash", "-c", f"'{WORKBENCH}' jobs wait {ticket['job_id']} --timeout 240 --json"],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=300,
        )
        assert waited.returncode == 0, waited.stderr
        record = _json(waited)
        assert (record["status"], record["progress"], record["attempt"]) == ("done", 1.0, 1)
        assert _numbers(record["result"]) == _numbers(direct)
        assert record["result"]["run_id"] != direct["run_id"]  # its own saved run
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=120) == 0
    listed = _json(run_cli("jobs", "list", "--status", "done", "--json", var=var, env=env))
    assert [row["id"] for row in listed] == [ticket["job_id"]]


def test_wait_exit_codes_retry_and_cancel(env: dict[str, str], isolated_workbench: Path) -> None:
    var = isolated_workbench
    bad = _json(run_cli(*SWEEP[:2], "NOPE", *SWEEP[3:], "--async", "--json", var=var, env=env))
    ran = run_cli("jobs", "worker", "--once", "--json", var=var, env=env)
    assert ran.returncode == 0 and _json(ran)["jobs"] == 1, ran.stderr
    failed = run_cli("jobs", "wait", str(bad["job_id"]), "--timeout", "5", var=var, env=env)
    assert failed.returncode == 1
    assert f"error: job {bad['job_id']} failed: The sweep job failed: dataset" in failed.stderr

    again = _json(run_cli("jobs", "retry", str(bad["job_id"]), "--json", var=var, env=env))
    assert again == {"job_id": again["job_id"], "retry_of": bad["job_id"], "status": "queued"}
    late = run_cli("jobs", "wait", str(again["job_id"]), "--timeout", "0.2", var=var, env=env)
    assert late.returncode == 124
    assert f"job {again['job_id']} is still queued" in late.stderr
    assert "no job worker is running: start one with `workbench jobs worker`" in late.stderr
    cancel = run_cli("jobs", "cancel", str(again["job_id"]), var=var, env=env)
    assert cancel.returncode == 0 and "is now cancelled" in cancel.stdout
    gone = run_cli("jobs", "wait", str(again["job_id"]), "--json", var=var, env=env)
    assert gone.returncode == 1 and _json(gone)["status"] == "cancelled"
    assert "was cancelled" in gone.stderr

    shown = run_cli("jobs", "show", str(bad["job_id"]), var=var, env=env)
    assert shown.returncode == 0 and "error: The sweep job failed" in shown.stdout
    missing = run_cli("jobs", "show", "999", var=var, env=env)
    assert missing.returncode == 2 and "no job 999" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_async_refuses_bad_input_before_queuing(
    env: dict[str, str], isolated_workbench: Path
) -> None:
    refused = run_cli(
        "sweep", "--grid", "fast=50:20:5", "--async", "--json", var=isolated_workbench, env=env
    )
    assert refused.returncode == 2 and "--grid" in refused.stdout
    assert jobs.list_jobs() == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=40)
    | st.lists(st.sampled_from(["sweep", "train", "walkforward", "nope", " sweep", ""])).map(
        ",".join
    )
)
def test_the_kinds_parser_gives_known_kinds_or_a_refusal(text: str) -> None:
    from app.cli.jobs import _long_kinds, parse_kinds

    try:
        kinds = parse_kinds(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert kinds and set(kinds) <= set(_long_kinds())


def test_a_second_worker_of_the_same_name_is_refused(
    env: dict[str, str], isolated_workbench: Path
) -> None:
    from app.services.db import get_engine
    from app.services.jobs_supervisor import HOST
    from core.store.base import utcnow
    from core.store.db import session_scope
    from core.store.jobs import WorkerRepository

    with session_scope(get_engine()) as s:  # a live process holds the name (this one)
        WorkerRepository(s).beat("twin", host=HOST, pid=os.getpid(), now=utcnow(), ttl_s=60)
    twin = run_cli("jobs", "worker", "--name", "twin", "--once", var=isolated_workbench, env=env)
    assert twin.returncode == 4
    assert f"a worker named twin is already running (pid {os.getpid()} on {HOST})" in twin.stderr
