"""Paper trading end to end: crash safety (kill -9 and restart), kill switch, controls."""

from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import ROOT, run_cli
from tests.polling import wait_until

UNTIL = "2004-03-31"
"""About 315 bars after the 1,000 training bars: the kills land at bars 1,040 to 1,180, and
the restart still has 130 bars to run past the last of them."""
RUN = ["paper", "run", "--symbol", "SP500", "--train-bars", "1000", "--until", UNTIL, "--json"]


def cli(var: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The CLI as a subprocess on runtime folder ``var``."""
    return run_cli(*args, var=var, env=env, timeout=300)


def loosen_limits(var: Path) -> None:
    """Let the trader trade a lot: wide weight caps, no VaR or concentration blocks."""
    out = cli(
        var,
        "risk",
        "limits",
        "set",
        "max_weight_per_asset=1",
        "max_gross_exposure=1",
        "var_limit_95=1",
        "max_concentration=1",
        "max_order_notional=1000000",
        "--reason",
        "busy test book",
    )
    assert out.returncode == 0, out.stderr


def ledger(var: Path) -> dict:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return {
            "orders": con.execute(
                "SELECT client_order_id, side, qty, status, filled_qty, round(avg_fill_price, 8)"
                " FROM orders ORDER BY client_order_id"
            ).fetchall(),
            "fills": con.execute(
                "SELECT o.client_order_id, f.qty, round(f.price, 8), round(f.fee, 8) FROM fills f"
                " JOIN orders o ON o.id = f.order_id ORDER BY o.client_order_id"
            ).fetchall(),
            "positions": con.execute(
                "SELECT symbol, qty, round(avg_price, 8) FROM positions"
            ).fetchall(),
            "equity": con.execute(
                "SELECT bar, round(equity, 6) FROM equity_snapshots ORDER BY bar"
            ).fetchall(),
            "decisions": con.execute("SELECT count(*) FROM decisions").fetchone()[0],
            "cursor": con.execute("SELECT cursor FROM paper_sessions").fetchone()[0],
        }
    finally:
        con.close()


def cursor(var: Path) -> int:
    try:
        con = sqlite3.connect(var / "workbench.db", timeout=5)
        row = con.execute("SELECT cursor FROM paper_sessions").fetchone()
        con.close()
        return -1 if row is None else int(row[0])
    except sqlite3.Error:
        return -1


def heartbeat(var: Path) -> str | None:
    try:
        con = sqlite3.connect(var / "workbench.db", timeout=5)
        row = con.execute("SELECT status FROM worker_heartbeat ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
        return None if row is None else str(row[0])
    except sqlite3.Error:
        return None


def n_beats(var: Path) -> int:
    try:
        con = sqlite3.connect(var / "workbench.db", timeout=5)
        row = con.execute("SELECT count(*) FROM worker_heartbeat").fetchone()
        con.close()
        return int(row[0])
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def loosened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runtime folder with :func:`loosen_limits` applied (once, through the CLI), which
    each run below copies instead of starting the CLI again for the same limits."""
    var = tmp_path_factory.mktemp("loosened")
    loosen_limits(var)
    return var


def loosened_copy(loosened: Path, var: Path) -> Path:
    """A copy of the ``loosened`` runtime folder (database and all) at ``var``."""
    shutil.copytree(loosened, var)
    return var


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, loosened: Path) -> dict:
    var = loosened_copy(loosened, tmp_path_factory.mktemp("reference") / "var")
    out = cli(var, *RUN)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["state"] == "done-steps" or summary["last_bar"] == UNTIL
    book = ledger(var)
    assert len(book["orders"]) > 50, "the reference book should trade often"
    return book


def _kill_twice(var: Path, args: list[str], targets: tuple[int, int], poll_s: float) -> list[int]:
    """Start ``workbench paper run ARGS`` twice and SIGKILL it once its cursor reaches each
    target bar; the cursors at the kills."""
    kills = []
    for target in targets:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env={**os.environ, "WORKBENCH_VAR_DIR": str(var)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def reached(target: int = target, proc: subprocess.Popen[bytes] = proc) -> bool:
            assert proc.poll() is None, "the run ended before it could be killed"
            return cursor(var) >= target

        wait_until(reached, f"the cursor at bar {target}", timeout_s=120, every_s=poll_s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills.append(cursor(var))
    assert kills[0] >= targets[0] and kills[1] > kills[0], kills
    return kills


def _restart_and_compare(var: Path, reference: dict, keys: tuple[str, ...]) -> None:
    """Run to the end after the kills: the ledger equals the uninterrupted run's."""
    out = cli(var, *RUN)
    assert out.returncode == 0, out.stderr
    book = ledger(var)
    ids = [o[0] for o in book["orders"]]
    assert len(ids) == len(set(ids))  # no duplicated order
    for key in keys:  # orders: none lost, same fills and prices
        assert book[key] == reference[key], key


def test_kill_minus_nine_twice_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, reference: dict, loosened: Path
) -> None:
    var = loosened_copy(loosened, tmp_path / "crash")
    _kill_twice(var, [*RUN, "--speed", "150"], (1060, 1180), poll_s=0.05)
    _restart_and_compare(var, reference, ("orders", "fills", "positions", "equity", "decisions"))


def test_kill_minus_nine_during_a_grouped_replay_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, reference: dict, loosened: Path
) -> None:
    # At speed 0 the simulator's bars commit in groups (core.paper.group): a kill lands
    # inside a group, whose bars are lost whole and run again, identically, on restart.
    var = loosened_copy(loosened, tmp_path / "replay-crash")
    _kill_twice(var, list(RUN), (1040, 1120), poll_s=0.02)
    _restart_and_compare(
        var, reference, ("orders", "fills", "positions", "equity", "decisions", "cursor")
    )


def test_kill_switch_flattens_and_stops(tmp_path: Path, loosened: Path) -> None:
    var = loosened_copy(loosened, tmp_path / "kill")
    assert cli(var, *RUN[:-3], "--until", "2003-06-30", "--json").returncode == 0
    held = ledger(var)["positions"]
    assert any(abs(q) > 0 for _, q, _ in held)
    killed = cli(var, "paper", "kill", "--reason", "test", "--json")
    assert killed.returncode == 0, killed.stderr
    assert json.loads(killed.stdout)["flattened"] == ["default"]  # at once: no worker ran
    book = ledger(var)
    assert all(abs(q) < 1e-9 for _, q, _ in book["positions"])
    flatten = [o for o in book["orders"] if o[0].endswith("-flatten")]
    assert len(flatten) == 1 and flatten[0][3] == "filled"
    status = json.loads(cli(var, "paper", "status", "--json").stdout)
    assert status["control"]["desired_state"] == "stopped"
    assert "positions flattened" in status["control"]["reason"]


def test_pause_is_honoured_and_roles_are_checked(isolated_workbench: Path) -> None:
    # The worker runs in this process on an injected sleep: the "other side" (a PM
    # pausing, then resuming from the dashboard or the CLI) acts inside the sleeps, so
    # nothing waits on the wall clock.
    from app.operations.paper import PaperRequest, PauseRequest, ResumeRequest, StatusRequest
    from app.services import paper

    var = isolated_workbench
    denied = cli(var, "paper", "pause", env={"WORKBENCH_USER": "ann", "WORKBENCH_ROLES": "analyst"})
    assert denied.returncode == 3 and "trader" in denied.stderr
    loosen_limits(var)
    seen: dict[str, int] = {"paused_sleeps": 0}

    def sleep(seconds: float) -> None:
        # The cursor and the newest beat straight from the database at every sleep; the
        # full monitor view (tens of ms: every frame of the book) only where it is asserted.
        at, beat = cursor(var), heartbeat(var)
        if "paused_at" not in seen and at >= 1020:
            assert paper.set_state(PauseRequest(reason="test")).changed
            seen["paused_at"] = at
        elif beat == "paused":
            seen["paused_sleeps"] += 1
            assert at == seen["paused_at"]  # no bars while paused
            assert seconds == 0.5  # the control poll interval
            if seen["paused_sleeps"] == 3:  # three paused beats, then resume
                view = paper.monitor(StatusRequest(session="default"))
                assert view.session is not None and view.session["cursor"] == at
                assert (view.heartbeat or {}).get("status") == "paused"
                assert view.alive
                assert paper.set_state(ResumeRequest(reason="test")).changed

    request = PaperRequest(symbols=["SP500"], train_bars=1000)
    # Paused at bar 1020, resumed, then about 100 more bars (to the end of June 2003).
    until = "2003-06-30"
    summary = paper.run_worker(request, steps=None, speed=100, until=until, sleep=sleep)
    assert seen["paused_sleeps"] == 3
    assert summary["last_bar"] == until
    counts = collections.Counter(o[0] for o in ledger(var)["orders"])
    assert counts and max(counts.values()) == 1
