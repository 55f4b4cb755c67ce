"""SIGKILL of a simulated-live worker process, twice, then a restart: the session
resumes after its last processed bar on the identical stored calendar, and its ledger
equals an uninterrupted run's (no bar lost, none processed twice, no order duplicated).

The worker is a real ``workbench paper run --feed simulated`` process on the wall clock;
the test waits for its progress (the cursor) with a deadline and kills it there."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.app.test_paper_trader import cursor, ledger, loosen_limits
from tests.cli_helpers import ROOT, run_cli
from tests.polling import wait_until

TRAIN, STEPS = 300, 90
RUN = [
    "paper", "run", "--feed", "simulated", "--symbol", "IBM", "--symbol", "MSFT",
    "--train-bars", str(TRAIN), "--json",
]  # fmt: skip
NO_KEYS = {"ALPACA_API_KEY": "", "ALPACA_SECRET_KEY": ""}


def _stored(var: Path) -> list[tuple]:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return con.execute("SELECT ts, symbol, close FROM live_bars ORDER BY ts, symbol").fetchall()
    finally:
        con.close()


def _run_to(var: Path, bars: int) -> None:
    """Run until the cursor is at bar ``TRAIN + bars - 1``, from wherever it is."""
    left = TRAIN + bars - 1 - max(cursor(var), TRAIN - 1)  # a new session: -1
    out = run_cli(*RUN, "--speed", "200", "--steps", str(left), var=var, env=NO_KEYS, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["feed"] == "simulated"


def test_sigkill_twice_then_restart_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    loosen_limits(whole)
    var = shutil.copytree(whole, tmp_path / "crash")  # the same limits, without a CLI start
    _run_to(whole, STEPS)
    reference = ledger(whole)

    kills = []
    for target in (TRAIN + 20, TRAIN + 50):
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *RUN, "--speed", "40"],
            cwd=ROOT,
            env={**os.environ, **NO_KEYS, "WORKBENCH_VAR_DIR": str(var)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def reached(target: int = target, proc: subprocess.Popen[bytes] = proc) -> bool:
            assert proc.poll() is None, "the run ended before it could be killed"
            return cursor(var) >= target

        wait_until(reached, f"the cursor at bar {target}", timeout_s=180, every_s=0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills.append(cursor(var))
    assert kills[0] >= TRAIN + 20 and kills[1] > kills[0], kills
    _run_to(var, STEPS)
    book = ledger(var)
    ids = [o[0] for o in book["orders"]]
    assert len(ids) == len(set(ids))  # no duplicated order
    for key in ("orders", "fills", "positions", "equity", "decisions", "cursor"):
        assert book[key] == reference[key], key
    assert _stored(var) == _stored(whole)  # the identical calendar, bar for bar
