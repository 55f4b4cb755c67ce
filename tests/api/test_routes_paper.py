"""The paper routes over real tokens and a real worker process: start (202 with its pid; a
second start of a running session is a 409), pause, resume and kill change the stored
control state, which the worker follows; the trader role is needed; unknown sessions 404."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.operations.paper import StatusRequest
from app.services import paper
from tests.api.conftest import MakeToken
from tests.polling import wait_until

SESSION: dict[str, Any] = {"session": "api", "symbols": ["SP500"], "train_bars": 260}


def _exited(pid: int) -> bool:
    """Whether the worker (a child of this process) has exited; reaps it."""
    done, _ = os.waitpid(pid, os.WNOHANG)
    return done == pid


@pytest.fixture
def started() -> Iterator[list[int]]:
    """Pids of the workers a test starts; any still running at the end is stopped."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            if not _exited(pid):
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def test_start_pause_resume_and_kill_steer_a_real_worker(
    client: TestClient, make_token: MakeToken, started: list[int]
) -> None:
    tess = make_token("tess", {"trader"})
    ann = make_token("ann", {"analyst"})
    refused = client.post("/api/v1/paper/start", json=SESSION, headers=ann.headers)
    assert refused.status_code == 403 and "'trader' role" in refused.json()["detail"]

    reply = client.post(
        "/api/v1/paper/start", json=SESSION, params={"speed": 2, "steps": 500}, headers=tess.headers
    )
    assert reply.status_code == 202, reply.text
    assert reply.json()["session"] == "api"
    pid = reply.json()["pid"]
    started.append(pid)

    def status() -> dict[str, Any]:
        response = client.get(
            "/api/v1/paper/status", params={"session": "api"}, headers=ann.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def beat(expected: str) -> bool:
        assert not _exited(pid), "the worker exited early"
        heartbeat = status()["heartbeat"]
        return heartbeat is not None and heartbeat["status"] == expected

    wait_until(lambda: status()["alive"] and beat("running"), "the worker to run", timeout_s=120)
    assert status()["session"]["config"]["symbols"] == ["SP500"]
    again = client.post("/api/v1/paper/start", json=SESSION, headers=tess.headers)
    assert again.status_code == 409 and "already running" in again.json()["detail"]

    paused = client.post("/api/v1/paper/pause", json={"reason": "lunch"}, headers=tess.headers)
    assert paused.status_code == 200
    assert (paused.json()["changed"], paused.json()["desired_state"]) == (True, "paused")
    control = status()["control"]
    assert (control["desired_state"], control["updated_by"], control["reason"]) == (
        "paused",
        "tess",
        "lunch",
    )
    wait_until(lambda: beat("paused"), "the worker to pause", timeout_s=60)

    resumed = client.post("/api/v1/paper/resume", headers=tess.headers)
    assert resumed.json()["desired_state"] == "running" and resumed.json()["changed"]
    wait_until(lambda: beat("running"), "the worker to resume", timeout_s=60)

    denied = client.post("/api/v1/paper/kill", headers=ann.headers)
    assert denied.status_code == 403
    killed = client.post(
        "/api/v1/paper/kill", json={"flatten": True, "reason": "eod"}, headers=tess.headers
    )
    assert killed.status_code == 200 and killed.json()["desired_state"] == "killed"
    wait_until(lambda: _exited(pid), "the killed worker to exit", timeout_s=60)
    started.clear()
    final = status()
    assert final["alive"] is False
    assert all(p["qty"] == 0 for p in final["positions"])
    # the worker carried the kill out and recorded it in the control row
    assert final["control"]["desired_state"] == "stopped"
    assert final["control"]["reason"] == "killed (eod); positions flattened"


def test_status_and_controls_without_a_worker(client: TestClient, make_token: MakeToken) -> None:
    tess = make_token("tess", {"trader"})
    none = client.get("/api/v1/paper/status", headers=tess.headers)
    assert none.status_code == 200 and none.json()["session"] is None
    unknown = client.get("/api/v1/paper/status", params={"session": "nope"}, headers=tess.headers)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    bad_name = client.get("/api/v1/paper/status", params={"session": "a b"}, headers=tess.headers)
    assert bad_name.status_code == 422
    idle = client.post("/api/v1/paper/pause", headers=tess.headers)
    assert idle.status_code == 200 and idle.json()["changed"] is False
    assert "no paper worker is running" in idle.json()["message"]
    too_fast = client.post(
        "/api/v1/paper/start", json=SESSION, params={"speed": 1e9}, headers=tess.headers
    )
    assert too_fast.status_code == 422 and too_fast.json()["fields"][0]["field"] == "speed"
    unknown_symbol = client.post(
        "/api/v1/paper/start", json={**SESSION, "symbols": ["NOPE"]}, headers=tess.headers
    )
    assert unknown_symbol.status_code == 422 and "NOPE" in unknown_symbol.json()["detail"]
    assert paper.monitor(StatusRequest(session="api")).session is None  # nothing created
    assert client.post("/api/v1/paper/kill").status_code == 401
