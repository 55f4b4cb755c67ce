"""A live paper session on the real alpaca-py clients against the fake market-data
service (tests/fakes/alpaca_stream.py), with duplicates, out-of-order, late and withheld
bars and a disconnect injected: every bar is processed exactly once, in order, and the
ledger equals a replay of the bars the session stored."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.feeds.base import Feed
from core.feeds.clock import CalendarClock, MarketClock
from core.feeds.replay import ReplayFeed
from core.paper.session import make_broker
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from core.store.db import session_scope
from core.store.live import LiveBarRepository
from tests.core.paper_fixtures import running_session_db, sim_config
from tests.core.test_paper_live import _ledger
from tests.fakes.alpaca_stream import MarketData, feed_for, start_market_data

pytestmark = pytest.mark.timeout(240)
SYMBOLS = ("AAPL", "MSFT", "IBM")
TRAIN, LIVE = 260, 100
LOOSE = RiskLimits(max_weight_per_asset=0.5, max_gross_exposure=1.5)
FIXED = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def _config() -> dict[str, Any]:
    return sim_config("alp", SYMBOLS, train_bars=TRAIN, feed="alpaca", timeframe="1Min")


def _engine(path: Path) -> Any:
    return running_session_db(path, _config())


def _worker(engine: Any, feed: Feed, market_clock: MarketClock | None = None) -> PaperWorker:
    """The session's worker on ``feed`` (sim broker, loose limits, no sleeps, a fixed clock)."""
    return PaperWorker(
        engine=engine,
        session_name="alp",
        broker=make_broker(engine, _config()),
        limits=lambda: LOOSE,
        feed=feed,
        market_clock=market_clock,
        sleep=lambda _s: None,
        clock=lambda: FIXED,
    )


def _label(fake: MarketData, i: int) -> pd.Timestamp:
    return (fake.times[i] + pd.Timedelta(minutes=1)).tz_localize(None)


def test_live_alpaca_session_every_bar_once_and_equal_to_a_replay(tmp_path: Path) -> None:
    fake = start_market_data(SYMBOLS, start="2026-11-30", days=1, seed=11)
    try:
        fake.push(TRAIN)  # the warm-up history
        engine = _engine(tmp_path / "live.db")
        feed = feed_for(fake, timeframe="1Min", wall=fake.now)
        worker = _worker(engine, feed, CalendarClock(clock=fake.now))
        assert list(worker.ctx.index) == [_label(fake, i) for i in range(TRAIN)]
        result: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: result.update(summary=worker.run(steps=LIVE, poll_s=0.05))
        )
        thread.start()
        assert fake.wait_subscribed(1)
        f = fake.faults
        f.duplicate |= {("AAPL", TRAIN + 5), ("MSFT", TRAIN + 6)}
        f.out_of_order |= {("IBM", TRAIN + 10)}
        f.late[("MSFT", TRAIN + 20)] = 2
        f.withhold |= {("AAPL", TRAIN + 30), ("IBM", TRAIN + 31)}
        for i in range(LIVE + 3):
            if i == 50:
                f.disconnect_after = 4
            fake.push(1)
        thread.join(180)
        assert not thread.is_alive()
        summary = result["summary"]
        assert summary.cycles == LIVE and summary.state == "done-steps"
        ledger = _ledger(engine, "alp")
        bars = sorted({b for b, _ in ledger["decisions"]})
        assert bars == list(range(TRAIN, TRAIN + LIVE))
        assert len(ledger["decisions"]) == LIVE * len(SYMBOLS)  # once per bar and symbol
        with session_scope(engine) as s:
            stored = LiveBarRepository(s).frames(1, list(SYMBOLS))
        assert list(stored["AAPL"].index) == [_label(fake, i) for i in range(TRAIN + LIVE)]
        expected = fake.expected("1Min")
        for symbol in SYMBOLS:
            got = stored[symbol]
            want = expected[symbol].reindex(got.index)
            traded = want["close"].notna()  # a minute without trades is carried forward
            pd.testing.assert_series_equal(
                got.loc[traded, "close"], want.loc[traded, "close"], check_names=False
            )
        feed.stop()
    finally:
        fake.close()

    replay = _engine(tmp_path / "replay.db")
    again = _worker(replay, ReplayFeed(stored, timeframe="1Min")).run()
    assert again.cycles == LIVE
    assert _ledger(replay, "alp") == ledger


def _run(engine: Any, fake: MarketData, steps: int, push: int) -> Any:
    """A worker on a fresh feed: ``steps`` bars while ``push`` minutes are published."""
    feed = feed_for(fake, timeframe="1Min", wall=fake.now)
    worker = _worker(engine, feed, CalendarClock(clock=fake.now))
    result: dict[str, Any] = {}
    subscribed = len(fake.subscriptions)
    thread = threading.Thread(target=lambda: result.update(s=worker.run(steps=steps, poll_s=0.05)))
    thread.start()
    assert fake.wait_subscribed(subscribed + 1)
    fake.push(push)
    thread.join(180)
    assert not thread.is_alive()
    return worker, result["s"]


def test_a_restart_fills_the_gap_from_rest_and_equals_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    whole = start_market_data(SYMBOLS, start="2026-11-30", days=1, seed=3)
    try:
        whole.push(TRAIN)
        reference = _engine(tmp_path / "whole.db")
        _worker, summary = _run(reference, whole, 60, 61)
        assert summary.cycles == 60
    finally:
        whole.close()

    fake = start_market_data(SYMBOLS, start="2026-11-30", days=1, seed=3)
    try:
        fake.push(TRAIN)
        engine = _engine(tmp_path / "cut.db")
        _worker, first = _run(engine, fake, 25, 25)
        assert first.cycles == 25
        fake.push(20)  # published while no worker runs: the restart gets them from REST
        rest_before = len(fake.rest_requests)
        second, rest = _run(engine, fake, 35, 16)
        assert rest.cycles == 35
        assert len(fake.rest_requests) > rest_before  # the gap came from REST
        assert len(second.ctx.index) >= TRAIN + 60  # (a bar may wait, received, unused)
    finally:
        fake.close()
    assert _ledger(engine, "alp") == _ledger(reference, "alp")
    with session_scope(engine) as s, session_scope(reference) as r:
        cut, ref = LiveBarRepository(s), LiveBarRepository(r)
        assert cut.count(1) == ref.count(1) == len(SYMBOLS) * (TRAIN + 60)  # only bars used
        for symbol, frame in cut.frames(1, list(SYMBOLS)).items():
            pd.testing.assert_frame_equal(frame, ref.frames(1, list(SYMBOLS))[symbol])
