"""Issue 13's end-to-end test: a live paper session on the real ``AlpacaFeed`` and the
real ``AlpacaBroker``, alpaca-py talking to the fake market-data service
(tests/fakes/alpaca_stream.py) and the fake trading server (tests/fakes/alpaca_server.py).

Three symbols, 1Min bars, 210 live minutes after the warm-up, with three stream
disconnects at different points (mid-minute with three minutes published while it is
down, across a minute boundary with an immediate reconnect, and a one-minute outage),
duplicate, withheld (gap, filled from REST), out-of-order and late bars. Asserted:

* every bar processed exactly once: one decision per bar and symbol, the cursor at the
  last bar, the stored calendar equal to the fake's minutes in order and their OHLCV equal
  to the fake's (independent pandas aggregation); the bars never streamed (withheld, or
  published while the stream was down) are stored as filled (from REST);
* no order lost or duplicated: the fake trading server's orders by ``client_order_id``
  equal the ledger's orders, each once, and every decision with a non-zero approved
  quantity has exactly one order of that side and quantity (and no order lacks one);
* the ledger (orders, fills, positions, equity per bar) equals a replay of the stored bars
  (``ReplayFeed``) on a fresh fake trading server.

The worker runs in a thread on the fake market's time (its clock, market clock and the
feed's wall clock are :meth:`MarketData.now`); the stream's reconnect backoff is a gate
the test opens, so each outage is exactly as long as the test makes it. Waits are on
events and conditions with deadlines, never sleeps. The fake trading server fills every
order at the close of the bar that decided it (looked up by its deterministic
``client_order_id``) and marks positions at the last such close, so fills and equity move
with the market, identically in the live run and the replay.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.broker.alpaca import AlpacaBroker
from core.feeds.base import Feed
from core.feeds.clock import CalendarClock
from core.feeds.replay import ReplayFeed
from core.paper.ids import client_order_id
from core.paper.report import CycleReport
from core.paper.session import open_session
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from core.store.db import make_engine, session_scope, upgrade
from core.store.live import LiveBarRepository
from core.store.paper import WorkerControlRepository
from tests.app.test_paper_live_kill_alpaca import LIMITS, _fake_orders, _rows
from tests.app.test_paper_trader import cursor, ledger
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.alpaca_stream import MarketData, feed_for, start_market_data

pytestmark = pytest.mark.timeout(300)
SESSION = "e2e"
SYMBOLS = ("AAPL", "MSFT", "IBM")
TRAIN, LIVE = 391, 210
"""Warm-up minutes (= the training bars: the first session and the second's first
minute, so the worker starts while the market is open), live minutes processed."""
EXTRA = 3
"""Minutes published after the last processed one."""
WAIT_S = 120.0
"""Deadline of every wait on another thread (a hang fails, it never times the code)."""
REPLAY_CLOCK = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)

# faults, by live minute k (the fake's minute TRAIN + k)
DUPLICATE = {("AAPL", 5), ("MSFT", 6), ("IBM", 90), ("AAPL", 150)}
OUT_OF_ORDER = {("IBM", 10), ("AAPL", 100), ("MSFT", 160)}
LATE = {("MSFT", 20): 2, ("IBM", 110): 3, ("AAPL", 180): 1}
WITHHOLD = {("AAPL", 30), ("IBM", 31), ("MSFT", 130), ("AAPL", 130), ("IBM", 195)}
DISCONNECTS = {50: (2, 3), 120: (4, 0), 170: (1, 1)}
"""Live minute -> (bar messages until the drop, minutes published while down). At 50
the third symbol's bar is cut; at 120 the drop comes with minute 121's first bar (and the
stream reconnects before the next minute); at 170 only the first bar gets through."""
DUP_KEYS = {(s, TRAIN + k) for s, k in DUPLICATE}
NEVER_STREAMED = (
    WITHHOLD
    | {("IBM", 50)}
    | {(s, k) for s in SYMBOLS for k in (51, 52, 53)}
    | {("MSFT", 121), ("IBM", 121)}
    | {("MSFT", 170), ("IBM", 170)}
    | {(s, 171) for s in SYMBOLS}
)
"""The live bars the stream never delivers (the fake sends AAPL, MSFT, IBM in that order,
and no deferred fault lands on a cut minute): they can only come from REST."""
LATE_PAST = {key for key, n in LATE.items() if n >= 2}
"""Late bars sent after their minute was processed (the test publishes a minute only once
the worker has processed the one before the last): their minute came from REST, and the
late copy is dropped."""


def _config() -> dict[str, Any]:
    return {
        "session": SESSION,
        "broker": "alpaca",
        "dataset": "ohlcv_daily",
        "symbols": list(SYMBOLS),
        "initial_cash": 100_000.0,
        "fees": 0.0005,
        "slippage": 0.0005,
        "train_bars": TRAIN,
        "selector": "contextual",
        "seed": 0,
        "feed": "alpaca",
        "timeframe": "1Min",
    }


def _database(var: Path) -> Any:
    """``var/workbench.db`` migrated, with the session opened and set running."""
    var.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{var / 'workbench.db'}")
    upgrade(engine)
    with session_scope(engine) as s:
        open_session(s, _config())
        WorkerControlRepository(s).set("running", updated_by="test")
    return engine


@dataclass
class BarPricedAlpaca(FakeAlpaca):
    """The fake trading server filling each order at the close of the bar that decided
    it (``closes``: client_order_id -> close) and marking positions at the last one."""

    closes: dict[str, float] = field(default_factory=dict)

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        price = self.closes.get(str(body.get("client_order_id")))
        if price is not None:
            self.prices[str(body["symbol"])] = price
        return super()._create(body)


def _trading(md: MarketData) -> BarPricedAlpaca:
    every = md.expected("1Min", upto=len(md.times))
    closes = {
        client_order_id(SESSION, symbol, stamp): float(close)
        for symbol, frame in every.items()
        for stamp, close in frame["close"].items()
    }
    server = BarPricedAlpaca(fill_mode="fill", closes=closes)
    server.start()
    return server


def _broker(trading: FakeAlpaca) -> AlpacaBroker:
    return AlpacaBroker(
        key=trading.key, secret=trading.secret, url_override=trading.url, sleep=lambda _s: None
    )


class BackoffGate:
    """The feed's reconnect backoff, held shut: after a drop the stream thread waits in
    :meth:`sleep` until the test calls :meth:`open` (or :meth:`free` at the end)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.entered = 0
        self.opened = 0
        self.freed = False

    def sleep(self, _seconds: float) -> None:
        with self._cond:
            self.entered += 1
            me = self.entered
            self._cond.notify_all()
            self._cond.wait_for(lambda: self.freed or self.opened >= me, WAIT_S)

    def wait_entered(self, count: int) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.entered >= count, WAIT_S)

    def open(self) -> None:
        with self._cond:
            self.opened += 1
            self._cond.notify_all()

    def free(self) -> None:
        with self._cond:
            self.freed = True
            self._cond.notify_all()


def _worker(engine: Any, broker: AlpacaBroker, feed: Feed, **options: Any) -> PaperWorker:
    return PaperWorker(
        engine=engine,
        session_name=SESSION,
        broker=broker,
        limits=lambda: RiskLimits(**LIMITS),
        feed=feed,
        sleep=lambda _s: None,
        **options,
    )


def _plant(md: MarketData) -> None:
    f = md.faults
    f.duplicate |= {(s, TRAIN + k) for s, k in DUPLICATE}
    f.out_of_order |= {(s, TRAIN + k) for s, k in OUT_OF_ORDER}
    f.late.update({(s, TRAIN + k): n for (s, k), n in LATE.items()})
    f.withhold |= {(s, TRAIN + k) for s, k in WITHHOLD}


class Progress:
    """The worker's processed bars (its ``on_cycle`` hook), waited on by the test."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.last = -1

    def on_cycle(self, report: CycleReport) -> None:
        with self._cond:
            self.last = max(self.last, report.bar)
            self._cond.notify_all()

    def wait_bar(self, bar: int, thread: threading.Thread) -> bool:
        """Wait until bar ``bar`` is processed (False at the deadline or when the worker
        thread has died)."""
        with self._cond:
            for _ in range(int(WAIT_S)):
                if self._cond.wait_for(lambda: self.last >= bar, 1.0):
                    return True
                if not thread.is_alive():
                    return False
        return False


def _wait_subscribed(md: MarketData, count: int, thread: threading.Thread) -> bool:
    """Wait for ``count`` subscriptions in all (False at the deadline or when the worker
    thread has died)."""
    for _ in range(int(WAIT_S)):
        if md.wait_subscribed(count, 1.0):
            return True
        if not thread.is_alive():
            return False
    return False


def _drive(md: MarketData, gate: BackoffGate, progress: Progress, thread: threading.Thread) -> None:
    """Publish the live minutes one at a time, each once the worker has processed the
    minute before the last one published (live pacing: the bar before is over once a
    later minute is out, whatever its faults), with the disconnects of ``DISCONNECTS``
    (each outage held open by the gate while its minutes are published)."""
    k = 0

    def step() -> None:
        nonlocal k
        md.push(1)
        k += 1
        if 2 <= k <= LIVE + 1:  # live minute k - 2 is processed before the next push
            assert progress.wait_bar(TRAIN + k - 2, thread), f"live bar {k - 2} not processed"

    drops = 0
    while k < LIVE + EXTRA:
        if k not in DISCONNECTS:
            step()
            continue
        after, down = DISCONNECTS[k]
        sent = len(md.sent)
        md.faults.disconnect_after = after
        step()
        if after > len(SYMBOLS):  # the drop comes with the next minute's bars
            step()
        drops += 1
        assert gate.wait_entered(drops), "the stream did not see the disconnect"
        assert md.faults.disconnect_after is None and md.connected == 0
        assert len(md.sent) - sent == after
        for _ in range(down):  # nobody subscribed: these minutes reach no one
            step()
        gate.open()
        assert _wait_subscribed(md, 1 + drops, thread), "the stream did not reconnect"


def _faults_on_the_wire(sent: list[tuple[str, int]]) -> None:
    """The planted faults reached the client as planted (the fake's sending order)."""
    at: dict[tuple[str, int], list[int]] = {}
    for i, key in enumerate(sent):
        at.setdefault(key, []).append(i)
    assert all(len(places) == 1 for key, places in at.items() if key not in DUP_KEYS)
    for s, k in DUPLICATE:
        assert len(at[(s, TRAIN + k)]) == 2
    for s, k in OUT_OF_ORDER:
        assert at[(s, TRAIN + k)][0] > at[(s, TRAIN + k + 1)][0]
    for (s, k), n in LATE.items():
        late = (s, TRAIN + k)  # after every other bar of the minute before it is sent
        before = [i for i, key in enumerate(sent) if key[1] == late[1] + n - 1 and key != late]
        assert at[late][0] > max(before)


def test_live_session_on_both_fakes_every_bar_once_no_order_lost_equal_to_a_replay(
    tmp_path: Path,
) -> None:
    md = start_market_data(SYMBOLS, start="2026-11-30", days=2, seed=23)
    trading = _trading(md)
    gate = BackoffGate()
    var = tmp_path / "live"
    try:
        md.push(TRAIN)  # the warm-up history (REST)
        engine = _database(var)
        feed = feed_for(md, timeframe="1Min", wall=md.now, sleep=gate.sleep)
        clock = CalendarClock(clock=md.now)
        progress = Progress()
        worker = _worker(
            engine,
            _broker(trading),
            feed,
            clock=md.now,
            market_clock=clock,
            on_cycle=progress.on_cycle,
        )
        assert list(worker.ctx.index) == [_label(md, i) for i in range(TRAIN)]
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(summary=worker.run(steps=LIVE, poll_s=0.05)),
            daemon=True,
        )
        thread.start()
        assert _wait_subscribed(md, 1, thread), "the worker's stream never subscribed"
        _plant(md)
        rest_before = len(md.rest_requests)
        sent_before = list(md.sent)
        _drive(md, gate, progress, thread)
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the worker did not finish its live bars"
        summary = result["summary"]
        status = feed.status()
        fake_orders = _fake_orders(trading)
        expected = md.expected("1Min")
        sent_live = md.sent[len(sent_before) :]
        streamed = set(sent_live)
        rest_live = md.rest_requests[rest_before:]
    finally:
        gate.free()
        md.close()
        trading.close()

    assert (summary.cycles, summary.state) == (LIVE, "done-steps")
    _faults_on_the_wire(sent_live)
    assert status.reconnects == len(DISCONNECTS) and len(md.subscriptions) == 1 + len(DISCONNECTS)
    dropped = status.duplicates_dropped + status.out_of_order_dropped
    assert dropped >= len(DUPLICATE) + len(LATE_PAST)

    # every live bar processed exactly once, in order
    decided = _rows(var, "SELECT bar, symbol, count(*) FROM decisions GROUP BY bar, symbol")
    assert sorted(decided) == [
        (t, s, 1) for t in range(TRAIN, TRAIN + LIVE) for s in sorted(SYMBOLS)
    ]
    assert cursor(var) == TRAIN + LIVE - 1
    labels = [_label(md, i) for i in range(TRAIN + LIVE)]
    with session_scope(engine) as s:
        repo = LiveBarRepository(s)
        assert repo.count(1) == len(SYMBOLS) * (TRAIN + LIVE)  # only the bars used
        stored = repo.frames(1, list(SYMBOLS))
    cols = ["open", "high", "low", "close", "volume"]
    for symbol in SYMBOLS:
        assert list(stored[symbol].index) == labels
        pd.testing.assert_frame_equal(
            stored[symbol][cols], expected[symbol].loc[labels, cols], check_names=False
        )
    # the bars the stream never delivered are in the calendar, filled from REST
    live_minutes = {(s, i) for s in SYMBOLS for i in range(TRAIN, TRAIN + LIVE)}
    never = live_minutes - streamed
    assert never == {(s, TRAIN + k) for s, k in NEVER_STREAMED}
    from_rest = never | {(s, TRAIN + k) for s, k in LATE_PAST}
    filled = {
        (str(sym), pd.Timestamp(ts))
        for sym, ts in _rows(var, "SELECT symbol, ts FROM live_bars WHERE filled")
    }
    assert {(sym, labels[i]) for sym, i in from_rest} <= filled
    assert status.gap_bars_filled >= len(from_rest)
    for symbol, i in from_rest:  # each asked of REST while the session ran
        minute = md.times[i]
        assert any(
            symbol in q.get("symbols", "").split(",")
            and pd.Timestamp(q["start"]) <= minute <= pd.Timestamp(q["end"])
            for _path, q in rest_live
        ), (symbol, i)

    # no order lost or duplicated, every approved quantity ordered once
    local = _rows(var, "SELECT client_order_id, symbol, side, qty, filled_qty FROM orders")
    assert fake_orders == sorted(local)
    assert len({o[0] for o in fake_orders}) == len(fake_orders) > 20
    wanted = {}  # whole shares: an approved quantity below one share sends nothing
    for bar, symbol, payload in _rows(var, "SELECT bar, symbol, payload FROM decisions"):
        p = json.loads(payload) if isinstance(payload, str) else payload
        qty = math.floor(abs(float(p["approved_qty"])))
        if qty >= 1:
            cid = client_order_id(SESSION, symbol, labels[bar])
            assert p["client_order_id"] == cid
            wanted[cid] = (symbol, "buy" if p["approved_qty"] > 0 else "sell", float(qty))
        else:
            assert p["client_order_id"] is None
    assert {o[0]: (o[1], o[2], o[3]) for o in local} == wanted
    book = ledger(var)
    assert len({e for _b, e in book["equity"]}) > 10  # fills and marks move the equity
    engine.dispose()

    # the ledger equals a replay of the stored bars on a fresh fake trading server
    md_again = MarketData(SYMBOLS, start="2026-11-30", days=2, seed=23)
    replay_trading = _trading(md_again)
    replay_var = tmp_path / "replay"
    replay = _database(replay_var)
    try:
        again = _worker(
            replay,
            _broker(replay_trading),
            ReplayFeed(stored, timeframe="1Min"),
            clock=lambda: REPLAY_CLOCK,
        ).run()
        assert again.cycles == LIVE
        replay_orders = _fake_orders(replay_trading)
    finally:
        replay_trading.close()
        replay.dispose()
    assert ledger(replay_var) == book
    assert replay_orders == fake_orders


def _label(md: MarketData, i: int) -> pd.Timestamp:
    """The workbench's label of the fake's minute ``i`` (its close, UTC-naive)."""
    return (md.times[i] + pd.Timedelta(minutes=1)).tz_localize(None)
