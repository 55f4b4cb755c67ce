"""A worker started with only the session's name runs with the session's stored settings
(cash, fees, slippage, seed, ...), and what it would refuse is refused before it starts."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.operations.paper import PaperRequest, StatusRequest
from app.services import paper
from core.data.loaders import embedded_sources
from tests.cli_helpers import run_cli

SETTINGS: dict[str, Any] = {
    "symbols": ["SP500"],
    "train_bars": 260,
    "selector": "thompson",  # a random selector: the seed changes its choices
    "initial_cash": 50_000.0,
    "fees": 0.001,
    "slippage": 0.002,
    "seed": 7,
}
STEPS = 40


def db(var: Path, sql: str, *args: Any) -> list[tuple]:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def decisions(var: Path, session: str) -> list[tuple]:
    return db(
        var,
        "SELECT bar, json_extract(payload, '$.weights'), json_extract(payload, '$.regime'),"
        " json_extract(payload, '$.approved_qty') FROM decisions WHERE session_name = ?"
        " ORDER BY bar",
        session,
    )


def test_the_dashboard_start_reaches_the_worker_with_every_setting(
    isolated_workbench: Path,
) -> None:
    var = isolated_workbench
    pid = paper.start_worker_process(
        PaperRequest(session="custom", **SETTINGS), speed=0.0, steps=STEPS
    )
    _, status = os.waitpid(pid, 0)  # the worker is a child of this process
    assert os.WEXITSTATUS(status) == 0, (var / "paper_worker.log").read_text()[-2000:]
    view = paper.monitor(StatusRequest(session="custom"))
    assert view.session is not None and view.session["cursor"] == 260 + STEPS - 1
    assert view.session["config"] == PaperRequest(session="custom", **SETTINGS).model_dump()
    # cash: the account started with 50,000
    assert view.account is not None and view.account["initial_cash"] == 50_000.0
    assert db(var, "SELECT initial_cash FROM accounts WHERE name = 'custom'") == [(50_000.0,)]
    # fees and slippage: every fill pays 10 bps of its value, at the open moved by 20 bps
    fills = db(var, "SELECT ts, side, qty, price, fee FROM fills")
    assert len(fills) >= 3
    opens = embedded_sources()["ohlcv_daily"].load("SP500")["open"]
    for ts, side, qty, price, fee in fills:
        assert fee == pytest.approx(0.001 * qty * price, rel=1e-12)
        bar_open = float(opens.loc[pd.Timestamp(str(ts)[:10])])
        assert price == pytest.approx(bar_open * (1.002 if side == "buy" else 0.998), rel=1e-12)
    # seed: the same decisions as an in-process run with seed 7, not those with seed 0
    paper.run_worker(PaperRequest(session="seven", **SETTINGS), steps=STEPS)
    paper.run_worker(PaperRequest(session="zero", **{**SETTINGS, "seed": 0}), steps=STEPS)
    assert decisions(var, "custom") == decisions(var, "seven")
    assert decisions(var, "custom") != decisions(var, "zero")


def test_a_stored_session_resumes_with_its_own_settings_by_name(isolated_workbench: Path) -> None:
    paper.run_worker(PaperRequest(session="custom", **SETTINGS), steps=3)
    summary = paper.run_worker("custom", steps=2)  # the name only
    assert summary["cycles"] == 2
    view = paper.monitor(StatusRequest(session="custom"))
    assert view.session is not None and view.session["cursor"] == 264
    assert view.session["config"]["fees"] == 0.001
    assert paper.stored_settings("custom") == view.session["config"]
    with pytest.raises(LookupError, match="no paper session named 'nobody'"):
        paper.run_worker("nobody", steps=1)
    with pytest.raises(ValueError, match=r"exists with a different \['fees'\]"):
        paper.run_worker(PaperRequest(session="custom", **{**SETTINGS, "fees": 0.0}), steps=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"symbols": ["GOOG"], "train_bars": 4000}, "train_bars 4000 leaves no bars to trade"),
        ({"fees": 0.0}, r"session 'custom' exists with a different \['fees'\]"),
    ],
)
def test_what_the_worker_would_refuse_is_refused_before_it_starts(
    isolated_workbench: Path, change: dict[str, Any], message: str
) -> None:
    paper.run_worker(PaperRequest(session="custom", **SETTINGS), steps=1)
    before = db(isolated_workbench, "SELECT name, config FROM paper_sessions")
    request = PaperRequest(session="custom", **{**SETTINGS, **change})
    with pytest.raises(ValueError, match=message):
        paper.start_worker_process(request, speed=0.0, steps=1)
    assert db(isolated_workbench, "SELECT name, config FROM paper_sessions") == before
    assert not paper.monitor(StatusRequest(session="custom")).alive


def test_paper_run_creates_a_session_with_its_flags_and_resumes_it_by_name(
    isolated_workbench: Path,
) -> None:
    var = isolated_workbench
    flags = ["--train-bars", "260", "--fees", "0.001", "--slippage", "0.002", "--seed", "7"]
    first = run_cli(
        "paper",
        "run",
        "--session",
        "s1",
        *flags,
        "--cash",
        "50000",
        "--steps",
        "2",
        "--json",
        var=var,
        timeout=300,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    config = paper.stored_settings("s1")
    assert config is not None
    assert (config["fees"], config["slippage"], config["seed"], config["initial_cash"]) == (
        0.001,
        0.002,
        7,
        50_000.0,
    )
    again = run_cli("paper", "run", "--session", "s1", "--steps", "1", "--json", var=var)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["cycles"] == 1
    assert db(var, "SELECT cursor FROM paper_sessions WHERE name = 's1'") == [(262,)]
    same = run_cli("paper", "run", "--session", "s1", "--fees", "0.001", "--steps", "1", var=var)
    assert same.returncode == 0, same.stdout + same.stderr  # a matching setting is fine
    other = run_cli("paper", "run", "--session", "s1", "--fees", "0.002", "--json", var=var)
    assert other.returncode == 2
    assert "exists with a different ['fees']" in json.loads(other.stdout)["error"]
    bad = run_cli("paper", "run", "--session", "s2", "--fees", "0.9", var=var)
    assert bad.returncode == 2 and "--fees" in bad.stderr
    assert paper.stored_settings("s2") is None
