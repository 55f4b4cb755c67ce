"""The replay and simulated feeds, and the feed factory's refusals (injected clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from core.feeds.factory import make_feed, market_clock, timeframe_of
from core.feeds.replay import ReplayFeed
from core.feeds.simulated import SimulatedFeed
from tests.fakes.slept_clock import FakeTime


def _frames(n: int = 10, start: str = "2024-01-01", freq: str = "B") -> dict[str, pd.DataFrame]:
    index = pd.date_range(start, periods=n, freq=freq, name="date")
    out = {}
    for k, symbol in enumerate(("AAA", "BBB")):
        close = pd.Series([100.0 + k + i for i in range(n)], index=index, dtype=float)
        out[symbol] = pd.DataFrame(
            {
                "open": close - 0.5,
                "high": close + 1,
                "low": close - 1,
                "close": close,
                "volume": 1e3,
            }
        )
    return out


def test_replay_gives_every_bar_once_in_order_then_finishes() -> None:
    frames = _frames()
    feed = ReplayFeed(frames)
    feed.start(["AAA", "BBB"], after=frames["AAA"].index[3])
    seen = []
    while not feed.finished:
        seen.extend(feed.poll(0.0))
    assert [b.ts for b in seen] == list(frames["AAA"].index[4:])
    assert seen[0].bars["BBB"]["close"] == frames["BBB"]["close"].iloc[4]
    assert feed.poll(0.0) == []
    history = feed.history(["AAA"], start=None, end=frames["AAA"].index[2])
    assert list(history["AAA"].index) == list(frames["AAA"].index[:3])


def test_replay_plays_the_common_calendar() -> None:
    frames = _frames()
    frames["BBB"] = frames["BBB"].drop(frames["BBB"].index[5])
    feed = ReplayFeed(frames)
    assert len(feed.index) == 9 and frames["AAA"].index[5] not in feed.index


def test_simulated_plays_on_the_clock_at_its_speed() -> None:
    fake = FakeTime()
    frames = _frames(10)
    feed = SimulatedFeed(frames, speed=4.0, warmup_bars=6, clock=fake.clock, sleep=fake.sleep)
    past = feed.history(["AAA", "BBB"], start=None, end=None)
    assert len(past["AAA"]) == 6  # the warm-up is the past
    feed.start(["AAA", "BBB"], after=None)
    got = []
    for _ in range(20):
        got.extend((b.ts, b.received_at) for b in feed.poll(1.0))
    assert [ts for ts, _ in got] == list(frames["AAA"].index[6:])
    # one bar every 0.25 s of the (fake) wall clock, received when it closed
    origin = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    assert [r for _, r in got] == [origin + timedelta(seconds=0.25 * k) for k in range(1, 5)]
    assert feed.finished and feed.poll(1.0) == []
    assert feed.history(["AAA"], start=None, end=None)["AAA"].shape[0] == 10


def test_simulated_waits_at_most_the_timeout_and_catches_up_when_slow() -> None:
    fake = FakeTime()
    feed = SimulatedFeed(_frames(10), speed=0.5, warmup_bars=2, clock=fake.clock, sleep=fake.sleep)
    feed.start(["AAA", "BBB"], after=None)
    assert feed.poll(0.5) == []  # the first bar closes 2 s after the start
    assert fake.sleeps == [0.5]
    fake.now += timedelta(seconds=10)  # a slow consumer: 5 bars are due at once
    assert len(feed.poll(0.5)) == 5


def test_simulated_restart_goes_on_after_the_last_bar() -> None:
    fake = FakeTime()
    frames = _frames(10)
    feed = SimulatedFeed(frames, speed=10, warmup_bars=3, clock=fake.clock, sleep=fake.sleep)
    feed.start(["AAA", "BBB"], after=frames["AAA"].index[6])
    first = feed.poll(1.0)
    assert first[0].ts == frames["AAA"].index[7]


def _config(**kw: Any) -> dict[str, Any]:
    return {
        "feed": "simulated",
        "timeframe": "1Day",
        "dataset": "d",
        "symbols": ["AAA", "BBB"],
        "train_bars": 5,
        **kw,
    }


def test_make_feed_checks_the_timeframe_and_the_speed() -> None:
    frames = _frames(10)
    loader = lambda dataset, symbol: frames[symbol]  # noqa: E731
    feed = make_feed(_config(), frames=loader, speed=2.0)
    assert isinstance(feed, SimulatedFeed) and feed.warmup_bars == 5
    assert isinstance(make_feed(_config(feed="replay"), frames=loader), ReplayFeed)
    with pytest.raises(ValueError, match=r"^--timeframe 1Min does not match dataset 'd', whose"):
        make_feed(_config(timeframe="1Min"), frames=loader, speed=2.0)
    with pytest.raises(ValueError, match=r"^--speed must be above 0"):
        make_feed(_config(), frames=loader, speed=0.0)
    minutes = _frames(30, start="2024-01-02 14:31", freq="min")
    found = timeframe_of(minutes["AAA"].index)
    assert found == "1Min"
    fed = make_feed(_config(timeframe="1Min"), frames=lambda d, s: minutes[s], speed=1.0)
    assert fed.timeframe == "1Min"


def test_market_clock_of_a_feed() -> None:
    at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # a Saturday
    assert market_clock({"feed": "simulated"}, clock=lambda: at).is_open(at)
    assert not market_clock({"feed": "alpaca"}, clock=lambda: at).is_open(at)
