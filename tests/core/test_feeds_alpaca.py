# ruff: noqa: F811  (the market_data fixture is a test parameter)
"""AlpacaFeed: the real alpaca-py clients against the fake market-data service.

Expected bars come from the fake's generator grouped by pandas (``MarketData.expected``),
independently of the feed's own aggregation. Time is driven by ``push``; the feed's clock
is the fake's time (plus an offset a test may move); backoff sleeps are recorded, never
slept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pandas as pd
import pytest

from core.broker.base import BrokerConfigError
from core.feeds.alpaca import AlpacaFeed
from core.feeds.base import BarSet
from core.feeds.clock import CalendarClock
from tests.fakes.alpaca_stream import MarketData, market_data, start_market_data  # noqa: F401
from tests.fakes.alpaca_stream import feed_for as feed_for_fake

pytestmark = pytest.mark.timeout(120)
SYMBOLS = ("AAPL", "MSFT", "IBM")


class Clock:
    """The fake's time plus a movable offset."""

    def __init__(self, fake: MarketData) -> None:
        self.fake = fake
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return self.fake.now() + self.offset


_FEEDS: list[AlpacaFeed] = []


@pytest.fixture
def md() -> Iterator[MarketData]:
    fake = start_market_data(SYMBOLS, start="2026-11-30", days=3, seed=11)
    try:
        yield fake
    finally:
        while _FEEDS:
            _FEEDS.pop().stop()
        fake.close()


def feed_for(md: MarketData, **options: object) -> tuple[AlpacaFeed, list[float], Clock]:
    sleeps: list[float] = []
    clock = Clock(md)
    options.setdefault("sleep", sleeps.append)
    feed = AlpacaFeed(
        key=md.key,
        secret=md.secret,
        rest_url=md.rest_url,
        stream_url=md.stream_url,
        clock=CalendarClock(clock=clock),
        **options,  # type: ignore[arg-type]
    )
    _FEEDS.append(feed)
    return feed, sleeps, clock


def collect(feed: AlpacaFeed, labels: list[pd.Timestamp], timeout_s: float = 30.0) -> list[BarSet]:
    """Poll until a set labelled ``labels[-1]`` arrived (guarded by a deadline)."""
    out: list[BarSet] = []
    deadline = time.monotonic() + timeout_s
    while not out or out[-1].ts < labels[-1]:
        assert time.monotonic() < deadline, f"got {len(out)} of {len(labels)} sets"
        out.extend(feed.poll(0.5))
    return out


def label(md: MarketData, i: int) -> pd.Timestamp:
    """Workbench label (UTC-naive close) of minute ``i``."""
    return (md.times[i] + pd.Timedelta(minutes=1)).tz_localize(None)


def check_values(md: MarketData, sets: list[BarSet], timeframe: str) -> None:
    expected = md.expected(timeframe)
    for bar_set in sets:
        for symbol in SYMBOLS:
            got = bar_set.bars[symbol]
            frame = expected[symbol]
            if bar_set.ts in frame.index:
                row = frame.loc[bar_set.ts]
                for column in ("open", "high", "low", "close", "volume"):
                    assert got[column] == pytest.approx(row[column], rel=1e-12), (
                        bar_set.ts,
                        symbol,
                        column,
                    )
            else:  # no trade in the bucket: flat at the last close, volume 0
                last = frame.loc[: bar_set.ts, "close"].iloc[-1]
                assert got == {"open": last, "high": last, "low": last, "close": last, "volume": 0}
                assert symbol in bar_set.filled


def warm(md: MarketData, feed: AlpacaFeed, minutes: int) -> pd.Timestamp:
    """Push ``minutes`` of history, start the feed after them, wait for its subscription."""
    md.push(minutes)
    after = label(md, minutes - 1)
    feed.start(SYMBOLS, after=after)
    assert md.wait_subscribed(1)
    return after


def test_history_matches_the_generator_for_every_timeframe(md: MarketData) -> None:
    md.push(390 + 100)  # the first session and 100 minutes of the second
    for timeframe in ("1Min", "5Min", "15Min", "1Hour", "1Day"):
        feed, _, _ = feed_for(md, timeframe=timeframe)
        frames = feed.history(SYMBOLS, start=None, end=None)
        expected = md.expected(timeframe)
        now = pd.Timestamp(md.now()).tz_localize(None)
        for symbol in SYMBOLS:
            want = expected[symbol]
            if timeframe == "1Day":
                want = want.iloc[:1]  # the second session has not closed
            else:
                want = want[want.index <= now]
            got = frames[symbol]
            assert list(got.columns) == ["open", "high", "low", "close", "volume"]
            assert got.index.name == "date"
            pd.testing.assert_frame_equal(
                got, want, check_freq=False, check_names=False, rtol=1e-12
            )
        feed.stop()
    # the label convention: the 14:30 UTC minute is labelled 14:31; 1Hour's first bar of a
    # winter session covers 14:30-15:00 and is labelled 15:00
    assert frames["AAPL"].index[0] == pd.Timestamp("2026-11-30")
    hourly = feed_for(md, timeframe="1Hour")[0].history(SYMBOLS, start=None, end=None)
    assert hourly["AAPL"].index[0] == pd.Timestamp("2026-11-30 15:00")
    minute = feed_for(md)[0].history(SYMBOLS, start=None, end=None)
    assert minute["AAPL"].index[0] == pd.Timestamp("2026-11-30 14:31")
    assert md.rest_requests[-1][1]["feed"] == "iex"


def test_a_clean_stream_needs_no_rest(md: MarketData) -> None:
    feed, sleeps, _ = feed_for(md)
    warm(md, feed, 20)
    rest_before = len(md.rest_requests)
    md.push(40)
    assert feed.wait_received(40 * 3, 20)
    sets = collect(feed, [label(md, 59)])
    assert [s.ts for s in sets] == [label(md, i) for i in range(20, 60)]
    assert all(s.filled == () for s in sets)
    check_values(md, sets, "1Min")
    assert len(md.rest_requests) == rest_before
    status = feed.status()
    assert status.connected and status.reconnects == 0 and sleeps == []
    assert status.last_bar_ts == label(md, 59)
    assert md.stream_paths == ["/v2/iex"]
    assert md.subscriptions[0]["bars"] == list(SYMBOLS)
    feed.stop()
    feed.stop()  # idempotent


def test_every_fault_every_bar_once_in_order(md: MarketData) -> None:
    gate = threading.Event()  # holds the reconnect until the test has pushed more minutes
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert gate.wait(20)

    feed, _, _ = feed_for(md, sleep=sleep)
    warm(md, feed, 30)
    f = md.faults
    f.duplicate |= {("AAPL", 35), ("IBM", 36)}
    f.out_of_order |= {("MSFT", 40)}
    f.late[("IBM", 45)] = 3
    f.withhold |= {("AAPL", 50), ("MSFT", 51), ("IBM", 51)}
    f.no_trades |= {("MSFT", 55)}
    md.push(30)  # minutes 30-59
    f.disconnect_after = 3 * 10 + 1  # mid-frame in minute 70: AAPL's bar only
    md.push(11)  # 60-70
    assert md.connected == 0
    md.push(9)  # 71-79 while the client waits to reconnect: lost on the stream
    gate.set()
    assert md.wait_subscribed(2)
    md.push(40)  # 80-119 on the new connection
    assert feed.wait_received(len(md.sent), 20)
    sets = collect(feed, [label(md, 119)])
    labels = [s.ts for s in sets]
    assert labels == [label(md, i) for i in range(30, 120)]  # once each, in order
    check_values(md, sets, "1Min")
    by_ts = {s.ts: s for s in sets}
    assert by_ts[label(md, 50)].filled == ("AAPL",)
    assert by_ts[label(md, 51)].filled == ("MSFT", "IBM")
    assert by_ts[label(md, 55)].filled == ("MSFT",)  # carried forward
    assert by_ts[label(md, 70)].filled == ("MSFT", "IBM")  # cut off mid-frame
    assert by_ts[label(md, 75)].filled == SYMBOLS  # lost while disconnected: from REST
    assert by_ts[label(md, 35)].filled == ()  # the duplicate was dropped, not refilled
    status = feed.status()
    assert status.reconnects == 1 and sleeps == [1.0]
    assert status.duplicates_dropped >= 2
    assert status.extra["carried_forward"] == 1
    assert status.gap_bars_filled >= 3 + 1 + 3 * 9
    feed.stop()


def test_five_minute_bars_aggregate_stream_and_rest_minutes(md: MarketData) -> None:
    feed, _, _ = feed_for(md, timeframe="5Min")
    warm(md, feed, 30)  # 14:30-15:00: the cursor is on a 5-minute boundary
    md.faults.withhold |= {("AAPL", 42)}  # one minute inside the 14:40-14:45 bucket
    md.faults.no_trades |= {("IBM", s) for s in range(50, 55)}  # a whole bucket without trades
    md.push(60)
    assert feed.wait_received(len(md.sent), 20)
    wanted = [pd.Timestamp("2026-11-30 15:05") + pd.Timedelta(minutes=5 * k) for k in range(12)]
    sets = collect(feed, wanted)
    assert [s.ts for s in sets] == wanted
    check_values(md, sets, "5Min")
    by_ts = {s.ts: s for s in sets}
    assert by_ts[pd.Timestamp("2026-11-30 15:15")].filled == ("AAPL",)
    assert by_ts[pd.Timestamp("2026-11-30 15:25")].filled == ("IBM",)
    feed.stop()


def test_a_missing_last_bar_completes_after_the_settle_time(md: MarketData) -> None:
    feed, _, clock = feed_for(md, settle_s=15.0)
    warm(md, feed, 10)
    md.faults.withhold.add(("IBM", 12))
    md.push(3)  # minutes 10-12; IBM's minute 12 never comes on the stream
    assert feed.wait_received(3 * 3 - 1, 20)
    sets = collect(feed, [label(md, 11)])
    assert feed.poll(0) == []  # 12 is not over: no later bar, the clock at its label
    clock.offset = timedelta(seconds=15)
    late = feed.poll(5)
    assert [s.ts for s in late] == [label(md, 12)] and late[0].filled == ("IBM",)
    check_values(md, sets + late, "1Min")
    feed.stop()


def test_a_slow_consumer_never_blocks_the_stream(md: MarketData) -> None:
    feed, _, _ = feed_for(md, queue_size=25)
    warm(md, feed, 10)
    md.push(150)  # 450 bars flood in while nobody polls
    assert feed.wait_received(450, 30)  # the stream thread took every message
    status = feed.status()
    assert status.extra["queue_dropped"] == 450 - 25
    sets = collect(feed, [label(md, 159)])
    assert [s.ts for s in sets] == [label(md, i) for i in range(10, 160)]
    check_values(md, sets, "1Min")
    feed.stop()


def test_backoff_is_exponential_and_capped(md: MarketData) -> None:
    delays: list[float] = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 4:
            md.faults.auth_error = None  # the other connection went away

    md.push(5)
    md.faults.auth_error = (406, "connection limit exceeded")
    feed, _, _ = feed_for(md, sleep=sleep, backoff_base_s=0.5, backoff_max_s=3.0)
    feed.start(SYMBOLS, after=label(md, 4))
    assert md.wait_subscribed(1)
    assert delays == [0.5, 1.0, 2.0, 3.0]
    assert md.auth_attempts == 5
    md.push(1)
    assert [s.ts for s in collect(feed, [label(md, 5)])] == [label(md, 5)]
    assert feed.status().reconnects == 0  # four failed attempts, one connection
    feed.stop()


def test_wrong_keys_are_a_sentence(md: MarketData, caplog: pytest.LogCaptureFixture) -> None:
    md.push(5)
    feed = AlpacaFeed(
        key=md.key,
        secret="wrong",
        rest_url=md.rest_url,
        stream_url=md.stream_url,
        clock=CalendarClock(clock=md.now),
    )
    _FEEDS.append(feed)
    with pytest.raises(BrokerConfigError, match=r"refused the market-data keys \(REST HTTP 401\)"):
        feed.start(SYMBOLS, after=label(md, 4))
    # the stream refuses the keys (REST accepted them): poll says so, no traceback logged
    md.faults.auth_error = (402, "auth failed")
    feed, sleeps, _ = feed_for(md)
    with caplog.at_level(logging.WARNING):
        feed.start(SYMBOLS, after=label(md, 4))
        with pytest.raises(BrokerConfigError) as caught:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                feed.poll(0.5)
    message = str(caught.value)
    assert (
        "auth failed" in message and "ALPACA_API_KEY" in message and "ALPACA_SECRET_KEY" in message
    )
    assert sleeps == []  # not retried
    assert not any(record.exc_info for record in caplog.records)
    assert feed.status().connected is False and "auth failed" in feed.status().detail
    feed.stop()


def test_missing_keys_name_the_variables(md: MarketData, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALPACA_API_KEY", "APCA_API_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BrokerConfigError, match="ALPACA_API_KEY is not set"):
        AlpacaFeed(rest_url=md.rest_url)


def test_keys_and_urls_from_the_environment(
    md: MarketData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import get_settings

    monkeypatch.setenv("ALPACA_API_KEY", md.key)
    monkeypatch.setenv("ALPACA_SECRET_KEY", md.secret)
    monkeypatch.setenv("WORKBENCH_ALPACA_DATA_URL", md.rest_url)
    monkeypatch.setenv("WORKBENCH_ALPACA_STREAM_URL", md.stream_url)
    get_settings.cache_clear()
    md.push(5)
    feed = AlpacaFeed(timeframe="1Min", data_feed="sip", clock=CalendarClock(clock=md.now))
    _FEEDS.append(feed)
    assert feed.stream_url == md.stream_url + "/v2/sip"
    feed.start(SYMBOLS, after=label(md, 4))
    assert md.wait_subscribed(1)
    md.push(1)
    assert [s.ts for s in collect(feed, [label(md, 5)])] == [label(md, 5)]
    assert md.stream_paths == ["/v2/sip"]  # the SIP feed reached the server
    assert {q.get("feed") for _, q in md.rest_requests} == {"sip"}
    feed.stop()


def test_sip_without_subscription_says_use_iex(md: MarketData) -> None:
    md.push(5)
    md.faults.auth_error = (409, "insufficient subscription")
    feed, _, _ = feed_for(md, data_feed="sip")
    feed.start(SYMBOLS, after=label(md, 4))
    with pytest.raises(BrokerConfigError, match="use data_feed='iex'"):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            feed.poll(0.5)
    feed.stop()


def test_daily_bars_come_after_the_close(md: MarketData) -> None:
    md.push(390 + 1)  # session 1 closed; one minute of session 2
    feed, _, _ = feed_for(md, timeframe="1Day")
    feed.start(SYMBOLS, after=None)  # the last closed session is history
    assert feed.poll(0) == []
    md.push(390)  # the rest of session 2 and the first minute of session 3
    sets = feed.poll(0)
    assert [s.ts for s in sets] == [pd.Timestamp("2026-12-01")]
    check_values(md, sets, "1Day")
    assert md.stream_paths == []  # no websocket for daily bars
    feed.stop()


def test_restart_fills_the_gap_since_after(md: MarketData) -> None:
    md.push(60)
    feed, _, _ = feed_for(md)
    feed.start(SYMBOLS, after=label(md, 19))  # bars 20-59 happened while we were down
    sets = collect(feed, [label(md, 58)])
    assert [s.ts for s in sets][:39] == [label(md, i) for i in range(20, 59)]
    check_values(md, sets, "1Min")
    assert all(s.filled == SYMBOLS for s in sets)
    feed.stop()


def test_bad_options_are_sentences() -> None:
    with pytest.raises(ValueError, match="timeframe must be one of 1Min, 5Min"):
        AlpacaFeed(timeframe="2Min", key="k", secret="s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="data_feed must be 'iex' or 'sip'"):
        AlpacaFeed(data_feed="otc", key="k", secret="s")  # type: ignore[arg-type]


def test_the_night_is_no_gap_and_the_last_bar_of_the_day_is_filled(md: MarketData) -> None:
    feed, _, _ = feed_for(md)
    warm(md, feed, 380)  # up to 20:50 UTC on Monday
    md.faults.withhold.add(("IBM", 389))  # the day's last minute (20:59-21:00 UTC)
    md.faults.duplicate.add(("MSFT", 389))
    md.push(20)  # the rest of Monday and Tuesday's first ten minutes
    assert feed.wait_received(len(md.sent), 20)
    sets = collect(feed, [label(md, 399)])
    labels = [s.ts for s in sets]
    assert labels == [label(md, i) for i in range(380, 400)]
    assert labels[9] == pd.Timestamp("2026-11-30 21:00") and labels[10] == pd.Timestamp(
        "2026-12-01 14:31"
    )
    assert sets[9].filled == ("IBM",)  # filled once Tuesday's first bars arrived
    check_values(md, sets, "1Min")


@pytest.mark.parametrize("timeframe, gap_label", [("15Min", "15:45"), ("1Hour", "16:00")])
def test_longer_intraday_timeframes_live(md: MarketData, timeframe: str, gap_label: str) -> None:
    feed, _, _ = feed_for(md, timeframe=timeframe)
    warm(md, feed, 30)  # 14:30-15:00 UTC: on a 15-minute and an hour boundary
    md.faults.out_of_order.add(("AAPL", 40))
    md.faults.withhold.add(("MSFT", 70))
    md.push(150)  # up to 17:30 UTC
    assert feed.wait_received(len(md.sent), 20)
    step = pd.Timedelta(timeframe.replace("Min", "min").replace("Hour", "h"))
    wanted = list(pd.date_range("2026-11-30 15:00", "2026-11-30 17:30", freq=step)[1:])
    sets = collect(feed, wanted)
    assert [s.ts for s in sets] == wanted
    check_values(md, sets, timeframe)
    # MSFT's 15:40 minute came from REST; every other bar from the stream
    assert {s.ts: s.filled for s in sets if s.filled} == {
        pd.Timestamp(f"2026-11-30 {gap_label}"): ("MSFT",)
    }


def test_the_fixture_api_with_a_polling_consumer(market_data: MarketData) -> None:
    """What the worker's end-to-end test does: warm-up from history, then 200 minutes of
    three symbols with every fault, polled while the bars arrive (any interleaving)."""
    fake = market_data
    fake.push(30)
    feed = feed_for_fake(fake)
    try:
        run_worker_like(fake, feed)
    finally:
        feed.stop()


def run_worker_like(fake: MarketData, feed: AlpacaFeed) -> None:
    warmup = feed.history(SYMBOLS, start=None, end=None)
    after = warmup["AAPL"].index[-1]
    assert after == label(fake, 29)
    feed.start(SYMBOLS, after=after)
    assert fake.wait_subscribed(1)
    f = fake.faults
    f.duplicate |= {("AAPL", 40), ("MSFT", 41), ("IBM", 120)}
    f.out_of_order |= {("IBM", 50), ("AAPL", 150)}
    f.late |= {("MSFT", 60): 2, ("AAPL", 170): 5}
    f.withhold |= {("AAPL", 80), ("IBM", 81), ("MSFT", 190)}
    got: list[BarSet] = []
    for i in range(30, 230):
        if i == 100:
            f.disconnect_after = 5
        fake.push(1)
        got.extend(feed.poll(0))
    assert fake.wait_subscribed(2)
    fake.push(1)  # minute 230 on the new connection
    got.extend(collect(feed, [label(fake, 230)]) if got[-1].ts < label(fake, 230) else [])
    assert [s.ts for s in got] == [label(fake, i) for i in range(30, 231)]
    check_values(fake, got, "1Min")
    assert feed.status().reconnects == 1
