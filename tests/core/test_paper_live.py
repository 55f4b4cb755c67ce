"""The paper worker on a simulated-live feed, with an injected clock and sleep.

Every bar is processed exactly once; a restart (a new worker on the same database)
rebuilds the identical calendar from the stored bars and resumes at the cursor, ending
exactly where an uninterrupted run ends; the ledger of a simulated session equals a
replay of the same stored bars; observers see one ``on_bar`` per bar, with frames that
end at the bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core.data.loaders import embedded_sources
from core.feeds.replay import ReplayFeed
from core.feeds.simulated import SimulatedFeed
from core.paper.observers import BarEvent
from core.paper.session import common_calendar, make_broker
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from core.store.db import session_scope
from core.store.live import LiveBarRepository
from tests.core.paper_fixtures import running_session_db, sim_config
from tests.fakes.slept_clock import FakeTime

SYMBOLS = ["AAPL", "MSFT", "IBM"]
TRAIN, BARS = 260, 320
LOOSE = RiskLimits(max_weight_per_asset=0.5, max_gross_exposure=1.5)


def _config(name: str) -> dict[str, Any]:
    return sim_config(name, SYMBOLS, train_bars=TRAIN, feed="simulated", timeframe="1Day")


def _engine(path: Path, name: str) -> Engine:
    return running_session_db(path, _config(name))


def _frames() -> dict[str, pd.DataFrame]:
    source = embedded_sources()["ohlcv_daily"]
    frames = {s: source.load(s) for s in SYMBOLS}
    common = common_calendar(frames)[:BARS]
    return {s: f.loc[common] for s, f in frames.items()}


FIXED = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def _worker(engine: Engine, name: str, feed: Any, fake: FakeTime, **kw: Any) -> PaperWorker:
    return PaperWorker(
        engine=engine,
        session_name=name,
        broker=make_broker(engine, _config(name)),
        limits=lambda: LOOSE,
        feed=feed,
        sleep=fake.sleep,
        clock=lambda: FIXED,  # order times: the same in every run (the rate limit)
        **kw,
    )


def _simulated(fake: FakeTime, speed: float = 50.0) -> SimulatedFeed:
    return SimulatedFeed(
        _frames(), speed=speed, warmup_bars=TRAIN, clock=fake.clock, sleep=fake.sleep
    )


def _ledger(engine: Engine, name: str) -> dict[str, Any]:
    with engine.connect() as c:
        sid = c.execute(text("SELECT id FROM paper_sessions WHERE name=:n"), {"n": name}).scalar()
        orders = c.execute(
            text(
                "SELECT client_order_id, symbol, side, qty, status FROM orders "
                "ORDER BY client_order_id"
            )
        ).all()
        fills = c.execute(
            text(
                "SELECT o.client_order_id, f.qty, f.price FROM fills f "
                "JOIN orders o ON o.id = f.order_id ORDER BY o.client_order_id, f.id"
            )
        ).all()
        equity = c.execute(
            text(
                "SELECT bar, ts, equity, cash FROM equity_snapshots "
                "WHERE session_id=:s ORDER BY bar"
            ),
            {"s": sid},
        ).all()
        decisions = c.execute(
            text("SELECT bar, symbol FROM decisions WHERE session_name=:n ORDER BY bar, symbol"),
            {"n": name},
        ).all()
    strip = lambda rows: [tuple(r) for r in rows]  # noqa: E731
    cid = lambda rows: [(r[0].replace(name, "S"), *r[1:]) for r in rows]  # noqa: E731
    return {
        "orders": cid(strip(orders)),
        "fills": cid(strip(fills)),
        "equity": [(b, str(ts)[:19], round(e, 6), round(c, 6)) for b, ts, e, c in equity],
        "decisions": strip(decisions),
    }


def test_simulated_session_processes_every_bar_once(tmp_path: Path) -> None:
    fake = FakeTime()
    engine = _engine(tmp_path / "a.db", "sim")
    summary = _worker(engine, "sim", _simulated(fake), fake).run()
    assert summary.state == "finished"
    assert summary.cycles == BARS - TRAIN
    ledger = _ledger(engine, "sim")
    bars = [b for b, _ in ledger["decisions"]]
    assert sorted(set(bars)) == list(range(TRAIN, BARS))
    assert len(bars) == (BARS - TRAIN) * len(SYMBOLS)  # one decision per bar and symbol
    assert [e[0] for e in ledger["equity"]] == list(range(TRAIN, BARS))
    # the wall clock moved by the bars' schedule: 60 bars at 50 bars/s
    assert fake.slept == pytest.approx((BARS - TRAIN) / 50.0, abs=1e-6)
    with session_scope(engine) as s:
        stored = LiveBarRepository(s).frames(1, SYMBOLS)
    for symbol, frame in _frames().items():
        pd.testing.assert_frame_equal(stored[symbol], frame.astype("float64"), check_freq=False)


def test_restart_resumes_at_the_cursor_and_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = _engine(tmp_path / "whole.db", "sim")
    fake = FakeTime()
    _worker(whole, "sim", _simulated(fake), fake).run()

    engine = _engine(tmp_path / "cut.db", "sim")
    first = _worker(engine, "sim", _simulated(FakeTime()), FakeTime())
    assert first.run(steps=25).cycles == 25
    calendar = first.ctx.index.copy()
    # a new worker (another process after a crash) on the same database and a new feed
    second = _worker(engine, "sim", _simulated(FakeTime()), FakeTime())
    assert second.ctx.index.equals(calendar)  # the identical calendar, from the stored bars
    summary = second.run()
    assert summary.cycles == BARS - TRAIN - 25  # resumed after the cursor: nothing twice
    assert _ledger(engine, "sim") == _ledger(whole, "sim")


def test_simulated_ledger_equals_a_replay_of_the_stored_bars(tmp_path: Path) -> None:
    fake = FakeTime()
    engine = _engine(tmp_path / "sim.db", "sim")
    _worker(engine, "sim", _simulated(fake), fake).run()
    with session_scope(engine) as s:
        stored = LiveBarRepository(s).frames(1, SYMBOLS)

    replay = _engine(tmp_path / "replay.db", "sim")
    summary = _worker(replay, "sim", ReplayFeed(stored), FakeTime()).run()
    assert summary.cycles == BARS - TRAIN
    assert _ledger(replay, "sim") == _ledger(engine, "sim")
    with replay.connect() as c:  # a replay stores no bars: its data is the dataset
        assert c.execute(text("SELECT count(*) FROM live_bars")).scalar() == 0


class Recorder:
    """An observer that keeps what it was shown."""

    def __init__(self) -> None:
        self.rebuilt: list[tuple[int, dict[str, int]]] = []
        self.events: list[tuple[int, pd.Timestamp, dict[str, pd.Timestamp], int, float]] = []

    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        self.rebuilt.append((upto, {s: len(f) for s, f in frames.items()}))

    def on_bar(self, event: BarEvent, s: Session) -> None:
        ends = {sym: f.index[-1] for sym, f in event.frames.items()}
        sizes = {len(f) for f in event.frames.values()}
        assert sizes == {event.t + 1}
        self.events.append((event.t, event.ts, ends, len(event.decisions), event.equity))
        assert event.closes == {sym: float(f["close"].iloc[-1]) for sym, f in event.frames.items()}


@pytest.mark.parametrize("kind", ["simulated", "replay"])
def test_observers_see_every_bar_once_without_look_ahead(tmp_path: Path, kind: str) -> None:
    fake = FakeTime()
    engine = _engine(tmp_path / "obs.db", "sim")
    feed = _simulated(fake) if kind == "simulated" else ReplayFeed(_frames())
    recorder = Recorder()
    worker = _worker(engine, "sim", feed, fake, observers=[recorder])
    worker.run(steps=20)
    assert recorder.rebuilt == [(TRAIN, {s: TRAIN for s in SYMBOLS})]
    calendar = _frames()[SYMBOLS[0]].index
    assert [e[0] for e in recorder.events] == list(range(TRAIN, TRAIN + 20))
    for t, ts, ends, decided, equity in recorder.events:
        assert ts == calendar[t]
        assert ends == {s: calendar[t] for s in SYMBOLS}  # nothing after the bar
        assert decided == len(SYMBOLS)
        assert equity > 0


def test_simulated_figures_and_cursor_ts(tmp_path: Path) -> None:
    fake = FakeTime()
    engine = _engine(tmp_path / "fig.db", "sim")
    reports: list[Any] = []
    _worker(engine, "sim", _simulated(fake), fake, on_cycle=reports.append).run(steps=5)
    assert len(reports) == 5
    for report in reports:
        assert report.feed == "simulated"
        assert report.bar_interval_s == 86_400.0
        assert set(report.stage_ms) == {"arrival", "decision", "order"}
        assert report.stage_ms["arrival"] == 0.0  # the fake clock stands still at a bar
        assert report.stage_ms["decision"] <= report.stage_ms["order"]
    with engine.connect() as c:
        cursor, cursor_ts = c.execute(text("SELECT cursor, cursor_ts FROM paper_sessions")).one()
    assert cursor == TRAIN + 4
    assert pd.Timestamp(cursor_ts).tz_localize(None) == _frames()["AAPL"].index[TRAIN + 4]


def test_a_feed_that_ends_early_or_waits_keeps_beating(tmp_path: Path) -> None:
    fake = FakeTime()
    engine = _engine(tmp_path / "beat.db", "sim")
    feed = _simulated(fake, speed=0.5)  # a bar every 2 s; the worker polls every 0.5 s
    from core.feeds.clock import AlwaysOpenClock

    market = AlwaysOpenClock(clock=fake.clock)  # the beats' interval is market-clock time
    _worker(engine, "sim", feed, fake, market_clock=market, waiting_beat_s=1.0).run(
        steps=3, poll_s=0.5
    )
    with engine.connect() as c:
        statuses = [
            r[0] for r in c.execute(text("SELECT status FROM worker_heartbeat ORDER BY id"))
        ]
    assert statuses.count("running") == 3
    # three empty polls of 0.5 s before each bar, a waiting beat at most every second
    assert statuses == ["waiting", "waiting", "running"] * 3 + ["done-steps"]


def test_the_worker_sleeps_while_the_market_is_closed_and_keeps_beating(
    tmp_path: Path,
) -> None:
    from core.feeds.clock import ScheduleClock

    fake = FakeTime()  # 15:00 UTC; the market: open 15:00-15:00:02, again from 15:10
    day = pd.Timestamp("2026-01-05", tz="UTC")
    opens = pd.DatetimeIndex([day + pd.Timedelta("15h"), day + pd.Timedelta("15h10min")])
    closes = pd.DatetimeIndex([day + pd.Timedelta("15:00:02"), day + pd.Timedelta("16h")])
    market = ScheduleClock(opens, closes, clock=fake.clock)
    engine = _engine(tmp_path / "closed.db", "sim")
    feed = _simulated(fake, speed=1.0)
    worker = _worker(engine, "sim", feed, fake, market_clock=market, closed_wait_s=15.0)
    began = datetime.now(UTC)
    summary = worker.run(steps=3, poll_s=0.5)
    assert summary.cycles == 3
    assert fake.now >= datetime(2026, 1, 5, 15, 10, tzinfo=UTC)  # it waited for the open
    with engine.connect() as c:
        beats = c.execute(text("SELECT status, ts FROM worker_heartbeat ORDER BY id")).all()
    statuses = [status for status, _ in beats]
    # closed from 15:00:02 to 15:10: at most 15 s per sleep, a beat before each
    assert statuses.count("market_closed") == math.ceil((600 - 2) / 15)
    first_closed = statuses.index("market_closed")
    assert statuses[:first_closed].count("running") == 2  # the bars of 15:00:01 and :02
    # a heartbeat is stamped with the real time of the beat, not the injected clock
    for _, ts in beats:
        stamp = pd.Timestamp(ts).tz_localize(UTC) if pd.Timestamp(ts).tzinfo is None else ts
        assert began - timedelta(seconds=1) <= stamp <= datetime.now(UTC)


def test_a_kill_with_no_worker_marks_a_live_session_at_its_stored_bars(tmp_path: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from core.paper.session import session_marks

    fake = FakeTime()
    engine = _engine(tmp_path / "marks.db", "sim")
    _worker(engine, "sim", _simulated(fake), fake).run(steps=7)

    def no_dataset(dataset: str, symbol: str) -> pd.DataFrame:
        raise AssertionError("a live session's closes come from its stored bars")

    factory = sessionmaker(bind=engine)
    config, closes, ts = session_marks(factory, "sim", no_dataset)
    assert config["feed"] == "simulated"
    frames = _frames()
    assert ts == frames["AAPL"].index[TRAIN + 6]
    assert closes == {s: float(frames[s]["close"].iloc[TRAIN + 6]) for s in SYMBOLS}


class _LiveLikeFeed(SimulatedFeed):
    """The simulated feed, declaring what a live feed declares: bar sets may complete
    after the close (the session's last minute, a daily bar from REST)."""

    completes_after_close = True


def test_bars_completed_after_the_close_are_taken_before_the_next_open(tmp_path: Path) -> None:
    from core.feeds.clock import ScheduleClock

    fake = FakeTime()  # the market: open 15:00-15:00:02, again from 15:10
    day = pd.Timestamp("2026-01-05", tz="UTC")
    opens = pd.DatetimeIndex([day + pd.Timedelta("15h"), day + pd.Timedelta("15h10min")])
    closes = pd.DatetimeIndex([day + pd.Timedelta("15:00:02"), day + pd.Timedelta("16h")])
    market = ScheduleClock(opens, closes, clock=fake.clock)
    engine = _engine(tmp_path / "late.db", "sim")
    feed = _LiveLikeFeed(
        _frames(), speed=1.0, warmup_bars=TRAIN, clock=fake.clock, sleep=fake.sleep
    )
    worker = _worker(engine, "sim", feed, fake, market_clock=market, closed_wait_s=15.0)
    summary = worker.run(steps=3, poll_s=0.5)
    assert summary.cycles == 3
    # the third bar completed after the 15:00:02 close: taken at the first wake-up while
    # closed (one 15 s sleep), not at the 15:10 open as a dataset feed's would be
    assert fake.now < datetime(2026, 1, 5, 15, 1, tzinfo=UTC)
    with engine.connect() as c:
        statuses = [
            r[0] for r in c.execute(text("SELECT status FROM worker_heartbeat ORDER BY id"))
        ]
    assert statuses.count("market_closed") == 1
