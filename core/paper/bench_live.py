"""Live latency for ``workbench bench`` (section ``live``): from a minute bar's close on the
(fake) Alpaca stream to its orders submitted to the (fake) Alpaca trading API, per stage.

Issue 13's target: p99 below :data:`TARGET_P99_MS` from the bar's arrival to its order
submitted. A live paper session (feed ``alpaca``, timeframe ``1Min``, broker ``alpaca``,
the rule-agent ensemble) runs in a :class:`~core.paper.worker.PaperWorker` thread against
a fake market-data service (REST warm-up and the websocket stream alpaca-py speaks) and a
fake trading API, both on 127.0.0.1. The bench publishes one minute at a time and waits
for the worker's cycle before the next, so every figure is one bar's own latency, with
no queue behind it. Stages of a bar, in milliseconds (median, p95, p99):

* ``arrival``: the bar's close (the fake's publication) to the feed's bar set
  (websocket frame, alpaca-py's decoding, the feed's assembly): ``stage_ms["arrival"]``;
* ``decision``: the bar set to the last decision, without the risk checks (the feed's
  queue to the worker, the bar's fills and marks, every symbol's features and agents);
* ``risk``: the pre-trade checks inside the decisions (time spent in
  ``core.paper.cycle.pre_trade_check``, wrapped for the bench's duration only);
* ``order``: the last decision to the last order submitted (the orders recorded, then
  sent over HTTP to the trading API; almost nothing on a bar without an order);
* ``total``: the bar's close to its last order submitted (arrival + decision + risk +
  order), over every timed bar and over the timed bars that sent orders.

The first :data:`FIRST_BARS` live bars (at most a tenth) are run but not in the
percentiles: their totals are listed in ``first_bars_total_ms``.

``broker_http_ms`` / ``broker_http_calls_per_bar``: the worker thread's HTTP requests to
the trading API during a bar (``requests.Session.request``, wrapped like the risk check),
in every stage and after the orders (reconciliation), to show where the time goes.

The market's time is the fake's: the close of the last minute published, plus the real
time elapsed since (capped at :data:`ELAPSED_CAP_S`, so that a slow start never makes the
feed see an unpublished minute as over); the feed's receipt times and the worker's clock
use it, so ``arrival`` is a real elapsed time.

core never imports tests: :func:`bench_live` runs :func:`measure_live_latency` in a fresh
interpreter (as the jobs bench runs app code), and the fakes (``tests/fakes/alpaca_stream.py``,
``tests/fakes/alpaca_server.py``, development files of this repository) in a child process
of it, driven through a pipe, so that their server threads never hold the worker's GIL
(as real servers would not). ``fakes`` in the report says where they ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.benchkit import percentiles, run_python_json

TARGET_P99_MS = 50.0
"""Issue 13: p99 from a bar's arrival to its order submitted."""
ELAPSED_CAP_S = 10.0
"""Most real time the market clock moves past the last published minute."""
SYMBOLS = ("AAPL", "MSFT", "IBM")
STAGES = ("arrival", "decision", "risk", "order", "total")
WORKER_THREAD = "bench-live-worker"
FIRST_BARS = 10
"""Live bars run before the timed ones (at most a tenth of them): the first orders open
the HTTP connections; their totals are reported apart (``first_bars_total_ms``)."""


class MarketTime:
    """The fake market's time: its last published close plus the real time since then."""

    def __init__(self, market: Any) -> None:
        self._market = market
        self._lock = threading.Lock()
        self.mark()

    def mark(self, close: datetime | None = None) -> None:
        """The market's time is ``close`` (default: the fake's time) from now on; call it
        just before publishing the minute that closes at ``close``, so that the stream's
        frames are received after it."""
        with self._lock:
            self._origin = close if close is not None else self._market.now()
            self._at = time.perf_counter()

    def __call__(self) -> datetime:
        with self._lock:
            origin, at = self._origin, self._at
        elapsed = min(time.perf_counter() - at, ELAPSED_CAP_S)
        now: datetime = origin + timedelta(seconds=elapsed)
        return now


class _Timer:
    """Time spent in ``owner.name`` (and the number of calls), counted in the worker
    thread only, while in the ``with`` block (the attribute is restored after)."""

    def __init__(self, owner: Any, name: str) -> None:
        self.owner, self.name = owner, name
        self.seconds, self.calls = 0.0, 0

    def __enter__(self) -> _Timer:
        original = self._original = vars(self.owner)[self.name]

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread().name != WORKER_THREAD:
                return original(*args, **kwargs)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *_exc: object) -> None:
        setattr(self.owner, self.name, self._original)

    def take(self) -> tuple[float, int]:
        """Milliseconds and calls since the last call."""
        out, self.seconds, self.calls = (self.seconds * 1000, self.calls), 0.0, 0
        return out


def _config(symbols: Sequence[str], train_bars: int, seed: int) -> dict[str, Any]:
    return {
        "session": "bench-live",
        "broker": "alpaca",
        "dataset": "alpaca",
        "symbols": list(symbols),
        "initial_cash": 100_000.0,
        "fees": 0.0,
        "slippage": 0.0,
        "train_bars": train_bars,
        "selector": "contextual",
        "seed": seed,
        "feed": "alpaca",
        "timeframe": "1Min",
        "data_feed": "iex",
        "model": None,
        "challenger": None,
        "promotion": "approval",
    }


def stage_rows(
    reports: Sequence[Mapping[str, float]], risk_ms: Sequence[float]
) -> dict[str, list[float]]:
    """The stages of each bar from the worker's ``stage_ms`` (``arrival``, and
    ``decision`` / ``order`` measured from the receipt) and the bar's risk time.

    >>> rows = stage_rows([{"arrival": 1.0, "decision": 5.0, "order": 9.0}], [2.0])
    >>> [rows[k][0] for k in STAGES]
    [1.0, 3.0, 2.0, 4.0, 10.0]
    """
    out: dict[str, list[float]] = {k: [] for k in STAGES}
    for stages, risk in zip(reports, risk_ms, strict=True):
        out["arrival"].append(stages["arrival"])
        out["decision"].append(max(0.0, stages["decision"] - risk))
        out["risk"].append(risk)
        out["order"].append(max(0.0, stages["order"] - stages["decision"]))
        out["total"].append(stages["arrival"] + stages["order"])
    return out


def live_window(times: Sequence[Any], train_bars: int) -> tuple[int, int]:
    """``(warmup, last)``: minutes published before the worker starts (at least
    ``train_bars``, up to the start of a session, so the live bars begin at an open; the
    worker stores the warm-up and trades only the bars after it), and
    the index of that session's last minute (the live bars stop before it: the worker
    polls the feed only while the market is open, so the bar closing at the close waits
    for the next open).

    >>> import pandas as pd
    >>> day = lambda d: list(pd.date_range(f"2026-12-0{d} 14:30", periods=390, freq="1min"))
    >>> live_window(day(1) + day(2) + day(3), 400)
    (780, 1169)
    """
    stamps = pd.DatetimeIndex(times)
    starts = [0, *(np.flatnonzero(np.diff(stamps.asi8) > 60 * 10**9) + 1).tolist()]
    after = [i for i in starts if i >= train_bars]
    if not after:
        raise ValueError(f"the fake market has no session that starts after {train_bars} minutes")
    nxt = [i for i in starts if i > after[0]]
    end = nxt[0] if nxt else len(stamps)
    return after[0], end - 1


def measure_live_latency(
    market: Any,
    trading: Any,
    *,
    folder: Path,
    bars: int = 200,
    train_bars: int = 1000,
    symbols: Sequence[str] = SYMBOLS,
    seed: int = 0,
    timeout_s: float = 120.0,
) -> dict[str, Any]:
    """Run a live session on the started fakes and time ``bars`` live bars (see the module).

    ``market`` is a fake market-data service or a proxy of one (``push``, ``now``,
    ``times``, ``pushed``, ``wait_subscribed``, ``rest_url``, ``stream_url``, ``key``,
    ``secret``); ``trading`` a fake trading API (``url``, ``key``, ``secret``, and
    ``prices`` and ``orders`` in this process, or ``order_count()`` for a proxy that sets
    its own fill prices). The warm-up (:func:`live_window`) is published before the worker
    starts; the session lives in a SQLite file in ``folder``.
    """
    from core.broker import AlpacaBroker
    from core.feeds.alpaca import AlpacaFeed
    from core.feeds.clock import CalendarClock
    from core.paper.session import open_session
    from core.paper.worker import PaperWorker
    from core.risk import RiskLimits
    from core.store.db import make_engine, session_scope, upgrade
    from core.store.paper import WorkerControlRepository

    warmup, last = live_window(market.times, train_bars)
    if warmup + bars > last:
        raise ValueError(
            f"the fake market's session after {warmup} warm-up minutes has "
            f"{last - warmup} minutes before its last one; {bars} live bars asked for"
        )

    prices: dict[str, float] | None = getattr(trading, "prices", None)  # a fake here
    order_count = getattr(trading, "order_count", lambda: len(trading.orders))

    def publish(n: int) -> None:
        last = market.times[market.pushed + n - 1]
        clock.mark((last + pd.Timedelta(minutes=1)).to_pydatetime())
        market.push(n)
        if prices is not None:  # fills at the last close
            for symbol in symbols:
                prices[symbol] = float(market.minutes[symbol]["close"].iloc[market.pushed - 1])

    clock = MarketTime(market)
    publish(warmup)
    engine = make_engine(f"sqlite:///{folder / 'live.db'}")
    upgrade(engine)
    config = _config(symbols, train_bars, seed)
    with session_scope(engine) as s:
        open_session(s, config)
        WorkerControlRepository(s).set("running", updated_by="bench")
    feed = AlpacaFeed(
        timeframe="1Min",
        key=market.key,
        secret=market.secret,
        rest_url=market.rest_url,
        stream_url=market.stream_url,
        clock=CalendarClock(clock=clock),
        wall=clock,
    )
    broker = AlpacaBroker(
        key=trading.key,
        secret=trading.secret,
        paper=True,
        url_override=trading.url,
        data_url_override=market.rest_url,
    )
    cycles: list[Any] = []
    done = threading.Condition()

    def on_cycle(report: Any) -> None:
        with done:
            cycles.append((report, risk.take()[0], order_count(), http.take()))
            done.notify_all()

    loose = RiskLimits(max_weight_per_asset=0.5, max_gross_exposure=1.5, max_orders_per_minute=1000)
    failure: list[BaseException] = []
    import requests

    from core.paper import cycle as bar_cycle

    with _Timer(bar_cycle, "pre_trade_check") as risk, _Timer(requests.Session, "request") as http:
        worker = PaperWorker(
            engine=engine,
            session_name=str(config["session"]),
            broker=broker,
            limits=lambda: loose,
            on_cycle=on_cycle,
            feed=feed,
            clock=clock,
            market_clock=CalendarClock(clock=clock),
            sleep=lambda seconds: time.sleep(min(seconds, 0.05)),
        )

        def run() -> None:
            try:
                worker.run(steps=bars, poll_s=0.2)
            except BaseException as exc:  # reported below
                failure.append(exc)
            finally:
                with done:
                    done.notify_all()

        thread = threading.Thread(target=run, name=WORKER_THREAD, daemon=True)
        started = time.perf_counter()
        thread.start()
        if not market.wait_subscribed(1, timeout_s=timeout_s):
            raise RuntimeError(f"the worker did not subscribe to the stream in {timeout_s:g} s")
        start_s = time.perf_counter() - started
        risk.take(), http.take()  # the start-up's are not a bar's
        orders_before = order_count()
        for k in range(bars):
            publish(1)

            def processed(k: int = k) -> bool:
                return len(cycles) > k or bool(failure)

            with done:
                if not done.wait_for(processed, timeout_s):
                    raise RuntimeError(f"bar {k} was not processed within {timeout_s:g} s")
            if failure:
                raise RuntimeError("the worker failed") from failure[0]
        thread.join(timeout_s)
    engine.dispose()
    if failure:
        raise RuntimeError("the worker failed") from failure[0]
    if any(not c[0].stage_ms for c in cycles):  # the stored warm-up is never traded
        raise RuntimeError("a bar without latency stages: not a live bar")
    orders = int(order_count() - orders_before)
    first = min(FIRST_BARS, len(cycles) // 10)  # cold connections and caches: apart
    opening = stage_rows([c[0].stage_ms for c in cycles[:first]], [c[1] for c in cycles[:first]])
    counts = np.diff(
        [cycles[first - 1][2] if first else orders_before, *(c[2] for c in cycles[first:])]
    )
    cycles = cycles[first:]
    rows = stage_rows([c[0].stage_ms for c in cycles], [c[1] for c in cycles])
    with_orders = counts > 0
    total = np.asarray(rows["total"])
    figures = {k: percentiles(v) for k, v in rows.items()}
    return {
        "symbols": list(symbols),
        "timeframe": "1Min",
        "bars": len(cycles),
        "first_bars_total_ms": opening["total"],
        "bars_with_orders": int(with_orders.sum()),
        "orders": orders,
        "warmup_bars": warmup,
        "train_bars": train_bars,
        "start_s": start_s,
        "stages_ms": figures,
        "broker_http_ms": percentiles([c[3][0] for c in cycles]),
        "broker_http_calls_per_bar": percentiles([c[3][1] for c in cycles]),
        "total_ms_bars_with_orders": (
            percentiles(total[with_orders]) if with_orders.any() else None
        ),
        "target_p99_ms": TARGET_P99_MS,
        "ratio_to_target": figures["total"]["p99"] / TARGET_P99_MS,
        "feed_counts": dict(feed.status().extra),
    }


_RUNNER = """
import json, multiprocessing, os, shutil, tempfile
from pathlib import Path
import pandas as pd
folder = Path(tempfile.mkdtemp(prefix="bench-live-"))
os.environ["WORKBENCH_VAR_DIR"] = str(folder)
os.environ["WORKBENCH_SECRETS_FILE"] = str(folder / "no-secrets.toml")
from core.paper.bench_live import SYMBOLS, measure_live_latency

def serve(conn):  # the fakes, in a child process: they never hold the worker's GIL
    from tests.fakes.alpaca_server import FakeAlpaca
    from tests.fakes.alpaca_stream import start_market_data
    market = start_market_data(SYMBOLS, start="2026-11-30", days=__DAYS__, seed=7)
    trading = FakeAlpaca(key="bench-key", secret="bench-secret", fill_mode="fill").start()
    conn.send({"times": market.times, "rest_url": market.rest_url,
               "stream_url": market.stream_url, "key": market.key, "secret": market.secret,
               "url": trading.url, "trading_key": trading.key,
               "trading_secret": trading.secret})
    while True:
        cmd, arg = conn.recv()
        if cmd == "push":
            market.push(arg)
            for s in SYMBOLS:  # the trading API fills at the last close
                trading.prices[s] = float(market.minutes[s]["close"].iloc[market.pushed - 1])
            conn.send(market.pushed)
        elif cmd == "wait_subscribed":
            conn.send(market.wait_subscribed(*arg))
        elif cmd == "orders":
            conn.send(len(trading.orders))
        else:
            market.close()
            trading.close()
            conn.send(None)
            return

class Market:
    def __init__(self, conn, info):
        self.conn, self.times, self.pushed = conn, info["times"], 0
        self.rest_url, self.stream_url = info["rest_url"], info["stream_url"]
        self.key, self.secret = info["key"], info["secret"]
    def ask(self, cmd, arg=None):
        self.conn.send((cmd, arg))
        return self.conn.recv()
    def push(self, n):
        self.pushed = self.ask("push", n)
    def now(self):
        if self.pushed == 0:
            return self.times[0].to_pydatetime()
        return (self.times[self.pushed - 1] + pd.Timedelta(minutes=1)).to_pydatetime()
    def wait_subscribed(self, count=1, timeout_s=20.0):
        return self.ask("wait_subscribed", (count, timeout_s))

class Trading:
    def __init__(self, market, info):
        self.market, self.url = market, info["url"]
        self.key, self.secret = info["trading_key"], info["trading_secret"]
    def order_count(self):
        return self.market.ask("orders")

parent, child = multiprocessing.get_context("fork").Pipe()
server = multiprocessing.get_context("fork").Process(target=serve, args=(child,), daemon=True)
server.start()
info = parent.recv()
market = Market(parent, info)
try:
    report = measure_live_latency(
        market, Trading(market, info), folder=folder, bars=__BARS__, train_bars=__TRAIN__)
finally:
    market.ask("close")
    server.join(30)
report["fakes"] = "in a child process"
shutil.rmtree(folder, ignore_errors=True)
print(json.dumps(report, default=str))
"""


def bench_live(
    *, repeats: int = 3, bars: int | None = None, train_bars: int = 1000, timeout: float = 900
) -> dict[str, Any]:
    """The section: ``bars`` live bars (default ``100 * repeats``, at least 100, at most
    360: one session of minutes after the warm-up sessions) in a fresh interpreter."""
    n = bars if bars is not None else min(360, max(100, 100 * repeats))
    days = 1 + -(-train_bars // 390)  # warm-up to a session's start, then one session
    code = (
        _RUNNER.replace("__DAYS__", str(days))
        .replace("__BARS__", str(int(n)))
        .replace("__TRAIN__", str(int(train_bars)))
    )
    try:
        return run_python_json(code, timeout=timeout, what="live latency benchmark")
    except RuntimeError as exc:
        return {"skipped": str(exc)[-1500:]}


def summary(report: Mapping[str, Any]) -> str:
    """One digest line of :func:`bench_live`."""
    if "stages_ms" not in report:
        return f"live latency: skipped ({str(report.get('skipped', ''))[-200:]})"
    s = report["stages_ms"]
    parts = ", ".join(f"{k} {s[k]['median']:.1f}/{s[k]['p99']:.1f}" for k in STAGES)
    return (
        f"live bar -> order ({report['bars']} 1Min bars, {len(report['symbols'])} symbols, "
        f"{report['orders']} orders, fake Alpaca): p50/p99 ms {parts} "
        f"(target total p99 < {report['target_p99_ms']:g} ms)"
    )


__all__ = [
    "ELAPSED_CAP_S",
    "STAGES",
    "SYMBOLS",
    "TARGET_P99_MS",
    "MarketTime",
    "bench_live",
    "live_window",
    "measure_live_latency",
    "stage_rows",
    "summary",
]
