"""SIGKILL of a live Alpaca worker process (``--feed alpaca --broker alpaca``), then a
restart: it resumes after the last processed bar, the minutes published while it was
dead come from REST, no bar is processed twice, no order is lost or duplicated on the
(fake) trading server, and the ledger equals a replay of the bars the session stored.

The worker is a real ``workbench paper run`` process on alpaca-py against the fake
market-data service (REST + stream) and the fake trading API; its market clock is
Alpaca's (``/v2/clock`` of the fake, set to the fake market's time), so it lives on the
fake's time, not the wall clock. The test waits on the stored cursor (another process's
progress, with a deadline), never on sleeps of its own.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.broker.alpaca import AlpacaBroker
from core.feeds.replay import ReplayFeed
from core.paper.monitor import read_monitor, risk_state
from core.paper.session import open_session, stored_frames
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from core.store.db import make_engine, session_scope, upgrade
from core.store.live import LiveBarRepository
from core.store.paper import PaperSessionRepository, WorkerControlRepository
from tests.app.test_paper_trader import cursor, ledger
from tests.cli_helpers import ROOT, run_cli
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.alpaca_stream import MarketData, environ, start_market_data
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(420)
SYMBOLS = ("AAPL", "MSFT", "IBM")
TRAIN, LIVE = 260, 60
KILL_AT, DEAD = 20, 15
"""Live bars processed before the kill (at least), minutes published while it is dead."""
LIMITS = {
    "max_weight_per_asset": 1,
    "max_gross_exposure": 1,
    "var_limit_95": 1,
    "max_concentration": 1,
    "max_order_notional": 1_000_000,
    "max_orders_per_minute": 10_000,  # the wall-clock rate limit never decides
}
RUN = [
    "paper", "run", "--session", "alk", "--feed", "alpaca", "--broker", "alpaca",
    "--timeframe", "1Min", *[a for s in SYMBOLS for a in ("--symbol", s)],
    "--train-bars", str(TRAIN), "--json",
]  # fmt: skip


def _env(var: Path, md: MarketData, trading: FakeAlpaca) -> dict[str, str]:
    return {
        **os.environ,
        **environ(md),
        "WORKBENCH_ALPACA_TRADING_URL": trading.url,
        "WORKBENCH_VAR_DIR": str(var),
        "WORKBENCH_JOBS_AUTOSTART": "0",
    }


def _wait(until: Callable[[], bool], proc: subprocess.Popen[bytes], what: str) -> None:
    """Wait for another process's progress (a deadline, no timing)."""

    def done() -> bool:
        assert proc.poll() is None, f"the worker exited before {what}"
        return until()

    wait_until(done, what, timeout_s=240, every_s=0.02)


def _push(md: MarketData, trading: FakeAlpaca, n: int) -> None:
    """Publish ``n`` minutes, one at a time, Alpaca's clock at the market's time."""
    for _ in range(n):
        md.push(1)
        trading.clock_now = md.now()


def _fake_orders(trading: FakeAlpaca) -> list[tuple[str, str, str, float, float]]:
    with trading.lock:
        return sorted(
            (o["client_order_id"], o["symbol"], o["side"], o["qty"], o["filled_qty"])
            for o in trading.orders.values()
        )


def _rows(var: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_sigkill_of_a_live_alpaca_worker_then_restart(tmp_path: Path) -> None:
    var = tmp_path / "live"
    md = start_market_data(SYMBOLS, start="2026-11-30", days=1, seed=17)
    trading = FakeAlpaca(fill_mode="fill").start()
    try:
        md.push(TRAIN)  # the warm-up history
        trading.clock_now = md.now()
        env = _env(var, md, trading)
        out = run_cli(
            "risk", "limits", "set", *[f"{k}={v}" for k, v in LIMITS.items()],
            "--reason", "busy live book", var=var, env=env,
        )  # fmt: skip
        assert out.returncode == 0, out.stdout + out.stderr

        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *RUN],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: len(md.subscriptions) >= 1, proc, "the stream subscription")
            _push(md, trading, KILL_AT + 10)
            _wait(lambda: cursor(var) >= TRAIN + KILL_AT - 1, proc, f"{KILL_AT} live bars")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        killed_at = cursor(var)
        assert TRAIN + KILL_AT - 1 <= killed_at < TRAIN + LIVE - 1
        published = md.pushed - TRAIN
        _push(md, trading, DEAD)  # nobody listens: the restart gets them from REST
        rest_before = len(md.rest_requests)

        left = TRAIN + LIVE - 1 - killed_at
        restart = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *RUN, "--steps", str(left)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _wait(lambda: len(md.subscriptions) >= 2, restart, "the restart's subscription")
        _push(md, trading, LIVE + 2 - published - DEAD)
        stdout, stderr = restart.communicate(timeout=240)
        assert restart.returncode == 0, stdout.decode() + stderr.decode()
        summary = json.loads(stdout)
        assert (summary["cycles"], summary["feed"], summary["state"]) == (
            left,
            "alpaca",
            "done-steps",
        )
        assert len(md.rest_requests) > rest_before  # the gap came from REST
        # both processes lived on Alpaca's clock and calendar (the fake's market time)
        assert trading.count("GET", "/v2/clock") >= 2
        assert trading.count("GET", "/v2/calendar") >= 2
        expected = md.expected("1Min")
        fake_orders = _fake_orders(trading)
    finally:
        md.close()
        trading.close()

    # every live bar processed once, in order; every bar used stored once
    bars = _rows(var, "SELECT bar, count(*) FROM decisions GROUP BY bar ORDER BY bar")
    assert bars == [(t, len(SYMBOLS)) for t in range(TRAIN, TRAIN + LIVE)]
    assert cursor(var) == TRAIN + LIVE - 1
    engine = make_engine(f"sqlite:///{var / 'workbench.db'}")
    with session_scope(engine) as s:
        (config,) = [r[0] for r in _rows(var, "SELECT config FROM paper_sessions")]
        (sid,) = [r[0] for r in _rows(var, "SELECT id FROM paper_sessions")]
        repo = LiveBarRepository(s)
        assert repo.count(sid) == len(SYMBOLS) * (TRAIN + LIVE)
        stored = repo.frames(sid, list(SYMBOLS))
    with session_scope(engine) as s:  # the risk view reads the minutes it stored
        view = read_monitor(s, "alk")
    with session_scope(engine) as s:
        row = PaperSessionRepository(s).get("alk")
        assert row is not None
        frames = stored_frames(s, row)
    assert frames is not None
    state = risk_state(view, lambda _dataset, symbol: frames[symbol])
    assert state is not None and state.returns_history is not None
    minutes = pd.DataFrame({k: f["close"] for k, f in stored.items()}).pct_change().dropna()
    pd.testing.assert_frame_equal(
        state.returns_history, minutes.tail(250)[state.returns_history.columns]
    )
    engine.dispose()
    gap = md.times[TRAIN + published : TRAIN + published + DEAD] + pd.Timedelta(minutes=1)
    for symbol in SYMBOLS:
        got = stored[symbol]
        assert got.index.is_monotonic_increasing and got.index.is_unique
        assert set(gap.tz_localize(None)) <= set(got.index)  # the dead minutes, from REST
        want = expected[symbol].reindex(got.index)
        pd.testing.assert_frame_equal(
            got[["open", "high", "low", "close"]], want[["open", "high", "low", "close"]]
        )
    # no order lost or duplicated: the fake's book holds each recorded order once
    local = _rows(var, "SELECT client_order_id, symbol, side, qty, filled_qty FROM orders")
    assert fake_orders == sorted(local) and len(local) > 0
    assert len({o[0] for o in fake_orders}) == len(fake_orders)

    # the ledger equals a replay of the stored bars on a fresh fake trading server
    replay_var = tmp_path / "replay"
    replay_var.mkdir()
    settings = json.loads(config) if isinstance(config, str) else config
    _replay(replay_var, settings, stored)
    assert ledger(replay_var) == ledger(var)


def _replay(var: Path, config: dict[str, Any], stored: dict[str, pd.DataFrame]) -> None:
    engine = make_engine(f"sqlite:///{var / 'workbench.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        open_session(s, config)
        WorkerControlRepository(s).set("running", updated_by="test")
    trading = FakeAlpaca(fill_mode="fill").start()
    try:
        broker = AlpacaBroker(key=trading.key, secret=trading.secret, url_override=trading.url)
        worker = PaperWorker(
            engine=engine,
            session_name=config["session"],
            broker=broker,
            limits=lambda: RiskLimits(**LIMITS),
            feed=ReplayFeed(stored, timeframe="1Min"),
            sleep=lambda _s: None,
            clock=lambda: datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
        )
        assert worker.run().cycles == LIVE
    finally:
        trading.close()
        engine.dispose()
