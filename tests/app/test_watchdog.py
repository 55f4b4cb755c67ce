"""The alert watchdog outside the worker: a SIGKILLed worker's lost heartbeat fires within
the configured time (not before), no bar for N bar intervals while the market is open
fires stale_data (not while it is closed), with injected clocks; `alerts watch --once`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.services import alerts, watchdog
from app.services.db import get_engine
from core.alerts import AlertRuleSpec
from core.monitoring.market import MarketHours
from core.store.db import session_scope
from core.store.paper import PaperLease, PaperSession
from tests.cli_helpers import ROOT, run_cli
from tests.polling import wait_until

HEARTBEAT = AlertRuleSpec(name="worker-lost", kind="heartbeat", threshold=60, cooldown_s=0)
STALE = AlertRuleSpec(name="no-bars", kind="stale_data", threshold=3, cooldown_s=0)
TUESDAY = datetime(2026, 3, 3, tzinfo=UTC)  # a trading day (XNYS opens 14:30 UTC in March)


def _session(name: str, *, feed: str, timeframe: str, at: datetime, **extra: Any) -> None:
    """A running session as its worker leaves it: last bar processed and beat at ``at``."""
    with session_scope(get_engine()) as s:
        s.add(
            PaperSession(
                name=name,
                broker="sim",
                dataset="embedded",
                symbols=["AAPL"],
                config={"session": name, "feed": feed, "timeframe": timeframe, **extra},
                cursor=10,
                cursor_ts=at,
                status="running",
                updated_at=at,
            )
        )
        s.add(
            PaperLease(
                session_name=name,
                owner="w",
                host="h",
                pid=1,
                acquired_at=at,
                heartbeat_at=at,
                expires_at=at + timedelta(seconds=30),
            )
        )


def _fired(kind: str) -> list[dict[str, Any]]:
    return [e for e in alerts.history() if e["kind"] == kind]


def test_stale_data_counts_bars_only_while_the_market_is_open() -> None:
    alerts.save_rule(STALE)
    last = TUESDAY.replace(hour=14, minute=40)
    _session("live", feed="alpaca", timeframe="1Min", at=last)
    assert watchdog.check_once(last + timedelta(minutes=2, seconds=30)) == []  # 2.5 bars
    (hit,) = watchdog.check_once(last + timedelta(minutes=3))
    assert "no-bars (stale_data): data is stale: 3.0 bar interval(s)" in hit["message"]
    assert "[session live]" in hit["message"]
    # After the close: 20:58 -> 21:30 is two open minutes, and the market is closed.
    with session_scope(get_engine()) as s:
        row = s.scalars(select(PaperSession)).one()
        row.updated_at = TUESDAY.replace(hour=20, minute=58)
    evening = TUESDAY.replace(hour=21, minute=30)
    assert watchdog.check_once(evening) == []
    saturday = TUESDAY + timedelta(days=4, hours=16)
    assert watchdog.status(saturday)[0]["market_open"] is False
    assert watchdog.check_once(saturday) == []
    # Wednesday 14:33: 2 minutes on Tuesday + 3 this morning, market open.
    (hit,) = watchdog.check_once(TUESDAY + timedelta(days=1, hours=14, minutes=33))
    assert "5.0 bar interval(s)" in hit["message"]
    assert len(_fired("stale_data")) == 2


def test_stale_data_of_daily_and_simulated_sessions() -> None:
    alerts.save_rule(STALE)
    _session("daily", feed="alpaca", timeframe="1Day", at=TUESDAY.replace(hour=21, minute=5))
    _session("sim", feed="simulated", timeframe="1Day", at=TUESDAY, speed=2.0)
    _session("replayed", feed="replay", timeframe="1Day", at=TUESDAY - timedelta(days=300))
    friday_late = TUESDAY + timedelta(days=3, hours=21, minutes=5)  # 3 closes later
    fired = watchdog.check_once(friday_late)
    assert sorted(f["message"].split("[session ")[1] for f in fired) == ["daily]", "sim]"]
    # simulated at 2 bars/s: 1 s of silence is 2 bars, silent at a threshold of 3
    fresh = [s for s in watchdog.status(TUESDAY + timedelta(seconds=1)) if s["session"] == "sim"]
    assert fresh[0]["missed_bars"] == pytest.approx(2.0)
    by_name = {s["session"]: s for s in watchdog.status(friday_late)}
    assert by_name["replayed"]["missed_bars"] is None  # a replay is never stale


def test_a_market_seam_can_be_swapped() -> None:
    alerts.save_rule(STALE)
    _session("live", feed="alpaca", timeframe="1Min", at=TUESDAY.replace(hour=3))
    night = TUESDAY.replace(hour=3, minute=10)
    assert watchdog.check_once(night) == []  # XNYS is closed at 03:10 UTC
    always = watchdog.check_once(night, market_for=lambda c: MarketHours(always_open=True))
    assert len(always) == 1


def _lease() -> PaperLease | None:
    with session_scope(get_engine()) as s:
        return s.get(PaperLease, "default")


def test_heartbeat_fires_when_the_worker_is_killed_and_not_before(
    isolated_workbench: Path,
) -> None:
    alerts.save_rule(HEARTBEAT)
    log = isolated_workbench / "worker.log"
    isolated_workbench.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    command = [sys.executable, "-m", "app.cli", "paper", "run", "--speed", "2", "--steps", "5000"]
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        first = wait_until(_lease, "the worker's lease", every_s=0.2).heartbeat_at
        # it beats: a later heartbeat than the first one
        wait_until(
            lambda: (lease := _lease()) is not None and lease.heartbeat_at > first,
            "a beat",
            every_s=0.2,
        )
        live = _lease()
        assert live is not None
        beat = live.heartbeat_at.replace(tzinfo=UTC)
        assert watchdog.check_once(beat + timedelta(seconds=5)) == []  # healthy: silent
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    dead = _lease()
    assert dead is not None
    last_beat = dead.heartbeat_at.replace(tzinfo=UTC)
    assert watchdog.status(last_beat + timedelta(seconds=30))[0]["heartbeat_age_s"] == 30
    assert watchdog.check_once(last_beat + timedelta(seconds=59)) == []
    (hit,) = watchdog.check_once(last_beat + timedelta(seconds=60))
    assert "worker-lost (heartbeat): worker heartbeat lost: last beat 60 s ago" in hit["message"]
    assert hit["status"] == "sent" and _fired("heartbeat")
    listed = json.loads(run_cli("alerts", "list", "--json", var=isolated_workbench).stdout)
    assert "heartbeat" in listed["fired_kinds"]
    assert {k["kind"]: k["group"] for k in listed["kinds"]}["heartbeat"] == "monitoring"


def test_watch_loop_and_cli(isolated_workbench: Path) -> None:
    alerts.save_rule(HEARTBEAT)
    _session("live", feed="alpaca", timeframe="1Min", at=TUESDAY.replace(hour=15))
    clock = iter(TUESDAY.replace(hour=15, second=s) for s in (10, 40, 59))
    slept: list[float] = []
    sent = watchdog.watch(
        interval_s=15, iterations=3, clock=lambda: next(clock), sleep=slept.append
    )
    assert sent == 0 and slept == [15, 15] and not watchdog.pid_file().exists()
    assert watchdog.ensure_watchdog() is False  # autostart is off in tests
    out = run_cli("alerts", "watch", "--once", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    # the real clock is months past this session's last beat: it is lost
    (state,) = payload["sessions"]
    assert state["session"] == "live" and state["heartbeat_age_s"] > 60
    assert [f["rule"] for f in payload["fired"]] == ["worker-lost"]
    bad = run_cli("alerts", "watch", "--interval", "0", var=isolated_workbench)
    assert (
        bad.returncode != 0
        and "--interval must be above 0 and at most 3600 seconds" in bad.stdout + bad.stderr
    )
