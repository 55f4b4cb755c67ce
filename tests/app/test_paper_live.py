"""Live paper trading from the front ends: the Done-when command (simulated feed, no keys),
refusals that name the option before any work, status with the feed, the market clock
and the heartbeat's age, and an in-process simulated session on an injected clock."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.operations.paper import DEFAULT_SYMBOLS, PaperRequest, StatusRequest, feed_status
from app.services import paper
from tests.cli_helpers import run_cli
from tests.fakes.slept_clock import FakeTime

NO_KEYS = {"ALPACA_API_KEY": "", "ALPACA_SECRET_KEY": "", "APCA_API_KEY_ID": ""}


def db(var: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_done_when_simulated_session_completes_sixty_cycles(isolated_workbench: Path) -> None:
    var = isolated_workbench
    args = ["--symbol", "AAPL", "--symbol", "MSFT", "--symbol", "IBM", "--speed", "50"]
    out = run_cli(
        "paper", "run", "--feed", "simulated", *args, "--steps", "60", "--json",
        var=var, env=NO_KEYS, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads(out.stdout)
    assert summary["cycles"] == 60 and summary["feed"] == "simulated"
    assert summary["state"] == "done-steps"
    # every bar used is stored: the 1000 warm-up bars and the 60 live ones, per symbol
    assert db(var, "SELECT count(*), sum(warmup) FROM live_bars") == [(3 * 1060, 3 * 1000)]
    assert db(var, "SELECT count(DISTINCT bar) FROM decisions") == [(60,)]
    status = run_cli("paper", "status", "--json", var=var)
    shown = json.loads(status.stdout)
    assert shown["feed"] == "simulated"
    assert shown["market"] == "market always open (24/7 clock)"
    assert 0 <= shown["heartbeat_age_s"] < 300
    # a second run resumes after the cursor: the next 5 bars, nothing twice
    again = run_cli(
        "paper", "run", "--feed", "simulated", *args, "--steps", "5", "--json",
        var=var, env=NO_KEYS, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["cycles"] == 5, again.stdout + again.stderr
    assert db(var, "SELECT count(DISTINCT bar), min(bar), max(bar) FROM decisions") == [
        (65, 1000, 1064)
    ]


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--feed", "simulated"], "--feed simulated plays the dataset on the wall clock"),
        (["--feed", "simulated", "--speed", "5", "--until", "2005-01-03"], "--until applies"),
        (["--data-feed", "sip"], "Alpaca data feed sip applies to the alpaca feed only"),
        (["--feed", "simulated", "--speed", "5", "--timeframe", "1Min"], "--timeframe 1Min"),
        (["--replay", "--feed", "simulated"], "--replay means --feed replay"),
        (["--model", "alpha"], "Model reference 'alpha': write NAME:VERSION"),
        (["--feed", "sometimes"], "--feed"),
        (["--feed", "alpaca", "--speed", "3"], "--speed applies to --feed replay and simulated"),
    ],
)
def test_bad_live_options_are_refused_before_any_work(
    isolated_workbench: Path, args: list[str], start: str
) -> None:
    out = run_cli("paper", "run", *args, "--steps", "1", "--json", var=isolated_workbench)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    message = json.loads(out.stdout)["error"] if out.stdout.strip() else out.stderr
    assert start in message, message
    assert not (isolated_workbench / "workbench.db").exists() or db(
        isolated_workbench, "SELECT count(*) FROM paper_sessions"
    ) == [(0,)]


def test_live_without_keys_is_the_simulated_feed(isolated_workbench: Path) -> None:
    out = run_cli(
        "paper", "run", "--live", "--symbol", "IBM", "--train-bars", "300", "--speed", "100",
        "--steps", "3", "--json", var=isolated_workbench, env=NO_KEYS, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["feed"] == "simulated"


def test_default_symbols_are_five_on_a_common_calendar() -> None:
    assert PaperRequest().symbols == list(DEFAULT_SYMBOLS)
    assert len(DEFAULT_SYMBOLS) == 5


def test_service_runs_a_simulated_session_on_an_injected_clock(
    isolated_workbench: Path,
) -> None:
    fake = FakeTime()
    request = PaperRequest(feed="simulated", symbols=["IBM", "MSFT"], train_bars=260, session="sim")
    summary = paper.run_worker(request, steps=12, speed=2.0, sleep=fake.sleep, clock=fake.clock)
    assert summary["cycles"] == 12 and summary["feed"] == "simulated"
    assert fake.now - datetime(2026, 1, 5, 15, 0, tzinfo=UTC) == timedelta(seconds=6)
    view = paper.monitor(StatusRequest(session="sim"))
    shown = feed_status(view, now=datetime.now(UTC))
    assert shown["feed"] == "simulated" and shown["timeframe"] == "1Day"
    assert shown["heartbeat_age_s"] is not None
