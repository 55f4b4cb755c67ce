"""A fake Alpaca market-data service on 127.0.0.1: REST bars and the websocket stream.

The real alpaca-py clients talk to it unpatched:

* **REST** (``StockHistoricalDataClient(url_override=fake.rest_url)``): ``GET
  /v2/stocks/bars`` and ``/v2/stocks/{symbol}/bars`` for ``1Min``, ``5Min``, ``15Min``,
  ``1Hour`` and ``1Day`` (any ``<n>Min``/``<n>Hour`` too), paginated by ``limit`` and
  ``page_token``, bar-START times as Alpaca stamps them (daily bars at New York midnight).
  Only what the market has already traded is served: minutes up to the server's time
  (:meth:`MarketData.now`); the bar in progress of a longer timeframe is partial, as on
  Alpaca.
* **Stream** (``StockDataStream(url_override=fake.stream_url + "/v2/iex")``): msgpack
  frames as alpaca-py's ``DataStream`` speaks them: ``[{"T": "success", "msg":
  "connected"}]`` on connect, ``{"action": "auth", "key", "secret"}`` answered with
  ``authenticated`` (or ``[{"T": "error", "code": 402, "msg": "auth failed"}]`` and a
  close), ``{"action": "subscribe", "bars": [...]}`` answered with a ``subscription``
  message, then minute bars ``{"T": "b", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}``
  with ``t`` a msgpack Timestamp (the minute's start). Paths ``/v2/iex`` and ``/v2/sip``.

The test drives time: :meth:`MarketData.push` publishes the next ``n`` minutes (the
stream frames are written before it returns; REST serves them from then on). No wall
clock is involved. Data: C's seeded :func:`core.data.synthetic.synthetic_intraday` minute
bars on NYSE hours (its right-labelled close times shifted back one minute to Alpaca's
start times).

Faults (:class:`Faults`, ``fake.faults``), keyed by ``(symbol, minute index)``:
``withhold`` (a gap: never streamed, present in REST), ``late`` (streamed k minutes
later), ``duplicate`` (streamed again with the next minute), ``out_of_order`` (streamed
after the symbol's next bar), ``no_trades`` (a minute without trades: in neither stream nor
REST), ``disconnect_after`` (close every connection after N more bar messages, once),
``auth_error`` (refuse the stream's auth, e.g. ``(402, "auth failed")``, or ``(406,
"connection limit exceeded")`` which clients retry). A slow consumer is a big
``push(n)``: the frames are written as fast as the socket takes them.

Use it through :func:`start_market_data` (returns a started :class:`MarketData`; call
``close()``) or the pytest fixture :func:`market_data`; :func:`feed_for` builds an
``AlpacaFeed`` pointed at it, :func:`environ` the environment for code that builds its own.
A feed's ``start`` needs history before ``after``: push some minutes first (warm-up).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import msgpack
import pandas as pd
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from tests.fakes.market_data_http import MarketDataHandler, wire_bar
from tests.fakes.market_data_http import serve as serve_http

NEW_YORK = ZoneInfo("America/New_York")
STREAM_PATHS = ("/v2/iex", "/v2/sip")
Key = tuple[str, int]


@dataclass
class Faults:
    """What the fake does wrong (mutable while it runs; keys are ``(symbol, minute)``)."""

    withhold: set[Key] = field(default_factory=set)
    late: dict[Key, int] = field(default_factory=dict)
    duplicate: set[Key] = field(default_factory=set)
    out_of_order: set[Key] = field(default_factory=set)
    disconnect_after: int | None = None
    """Drop every open connection after this many more bar messages (then reset)."""
    no_trades: set[Key] = field(default_factory=set)
    """Minutes without a trade: in neither the stream nor REST (IEX has many)."""
    auth_error: tuple[int, str] | None = None
    """Refuse the stream's auth with ``(code, msg)``, e.g. ``(402, "auth failed")``."""


def timeframe_delta(text: str) -> pd.Timedelta | None:
    """``"5Min" -> 5 minutes``, ``"1Hour" -> 1 hour``; None for ``"1Day"``."""
    for suffix, unit in (("Min", "min"), ("Hour", "h")):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return pd.Timedelta(int(text[: -len(suffix)]), unit=unit)
    if text == "1Day":
        return None
    raise ValueError(f"timeframe {text!r} not faked")


def aggregate(minutes: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Alpaca-style bars of ``timeframe`` from minute bars indexed by UTC minute START:
    index = bucket start (UTC; daily: New York midnight in UTC)."""
    step = timeframe_delta(timeframe)
    if step is None:
        local = minutes.index.tz_convert(NEW_YORK)
        days = pd.DatetimeIndex(local.normalize())
        keys = days.tz_convert(UTC)
    else:
        keys = minutes.index.floor(step)
    grouped = minutes.groupby(keys)
    out = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    out.index.name = "t"
    return out


class MarketData:
    """The fake's state; start it with :meth:`start` (or :func:`start_market_data`).

    Parameters
    ----------
    symbols
        Symbols with data (others answer empty).
    start, days
        First session (New York date) and number of sessions of minute bars.
    seed
        Seed of the generator.
    key, secret
        The credentials it accepts (REST headers and stream auth); the defaults are
        :class:`tests.fakes.alpaca_server.FakeAlpaca`'s, so one pair of keys serves both.
    page_size
        Largest REST page (small values force the client through pages).
    """

    def __init__(
        self,
        symbols: tuple[str, ...] = ("AAPL", "MSFT", "IBM"),
        *,
        start: str = "2026-11-30",
        days: int = 2,
        seed: int = 7,
        key: str = "fake-key-id",
        secret: str = "fake-secret-key",
        page_size: int = 10_000,
    ) -> None:
        from core.data.synthetic import synthetic_intraday

        self.symbols = tuple(symbols)
        self.key, self.secret, self.page_size = key, secret, page_size
        frames = synthetic_intraday(list(symbols), start=start, days=days, seed=seed)
        self.minutes: dict[str, pd.DataFrame] = {}
        for symbol, frame in frames.items():
            shifted = frame.copy()
            shifted.index = pd.DatetimeIndex(frame.index - pd.Timedelta(minutes=1), name="t")
            shifted.index = shifted.index.tz_localize(UTC)
            self.minutes[symbol] = shifted
        self.times: pd.DatetimeIndex = self.minutes[self.symbols[0]].index
        self.faults = Faults()
        self.pushed = 0
        self.rest_requests: list[tuple[str, dict[str, str]]] = []
        self.stream_paths: list[str] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.auth_attempts = 0
        self.sent: list[Key] = []
        self._deferred: dict[int, list[tuple[Key, bool]]] = {}
        self._sent_since_fault = 0
        self._cond = threading.Condition()
        self._subscribers: dict[ServerConnection, set[str]] = {}
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_port = 0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> MarketData:
        """Serve REST and the stream on free ports of 127.0.0.1 (daemon threads)."""
        fake = self

        class Handler(_RestHandler):
            state = fake

        self._http = serve_http(Handler)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake stream server did not start")
        return self

    def _run_loop(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(
                self._session, "127.0.0.1", 0, process_request=self._check_path, max_queue=None
            ) as server:
                self._ws_port = next(iter(server.sockets)).getsockname()[1]
                ready.set()
                await self._stop.wait()

        loop.run_until_complete(main())
        loop.close()

    def close(self) -> None:
        """Stop both servers."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._loop = None

    @property
    def rest_url(self) -> str:
        """Base URL of the REST API (without ``/v2``): ``WORKBENCH_ALPACA_DATA_URL``."""
        assert self._http is not None, "call start() first"
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def stream_url(self) -> str:
        """Base URL of the stream (without ``/v2/<feed>``): ``WORKBENCH_ALPACA_STREAM_URL``."""
        return f"ws://127.0.0.1:{self._ws_port}"

    # ------------------------------------------------------------ time and data
    def now(self) -> datetime:
        """The server's time: the close of the last pushed minute (before any push: the
        first session's open)."""
        if self.pushed == 0:
            return self.times[0].to_pydatetime()
        return (self.times[self.pushed - 1] + pd.Timedelta(minutes=1)).to_pydatetime()

    def published(self, symbol: str) -> pd.DataFrame:
        """Minute bars of ``symbol`` the market has traded so far (index: minute start)."""
        frame = self.minutes[symbol].iloc[: self.pushed]
        gone = [self.times[i] for s, i in self.faults.no_trades if s == symbol and i < self.pushed]
        return frame.drop(index=gone) if gone else frame

    def expected(self, timeframe: str, *, upto: int | None = None) -> dict[str, pd.DataFrame]:
        """The bars a feed should deliver, in the workbench's labels (intraday: UTC-naive
        close time; daily: New York date), from the first ``upto`` minutes (default: all
        pushed; ``no_trades`` minutes left out), by pandas grouping independent of the
        feed's code. Includes the bar in progress; drop labels after the time you expect."""
        n = self.pushed if upto is None else upto
        out = {}
        for symbol in self.symbols:
            frame = self.minutes[symbol].iloc[:n]
            gone = [self.times[i] for s, i in self.faults.no_trades if s == symbol and i < n]
            bars = aggregate(frame.drop(index=gone) if gone else frame, timeframe)
            step = timeframe_delta(timeframe)
            if step is None:
                labels = bars.index.tz_convert(NEW_YORK).tz_localize(None).normalize()
            else:
                labels = (bars.index + step).tz_localize(None)
            bars.index = pd.DatetimeIndex(labels, name="date")
            out[symbol] = bars
        return out

    # ------------------------------------------------------------ driving
    def push(self, n: int = 1) -> None:
        """Publish the next ``n`` minutes: stream frames written, REST serving them."""
        assert self._loop is not None, "call start() first"
        future = asyncio.run_coroutine_threadsafe(self._push(n), self._loop)
        future.result(timeout=60)

    def wait_subscribed(self, count: int = 1, timeout_s: float = 20.0) -> bool:
        """Wait until ``count`` subscriptions in all have been made (reconnects add one)."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.subscriptions) >= count, timeout_s)

    @property
    def connected(self) -> int:
        """Connections currently subscribed."""
        return len(self._subscribers)

    def _message(self, key: Key) -> dict[str, Any]:
        symbol, i = key
        row = self.minutes[symbol].iloc[i]
        stamp = self.times[i].to_pydatetime()
        return {
            "T": "b",
            "S": symbol,
            "o": float(row["open"]),
            "h": float(row["high"]),
            "l": float(row["low"]),
            "c": float(row["close"]),
            "v": float(row["volume"]),
            "t": msgpack.Timestamp.from_datetime(stamp),
            "n": 100,
            "vw": float(row["close"]),
        }

    def _frame(self, i: int) -> list[Key]:
        """Bar messages of minute ``i`` in sending order (faults applied)."""
        faults = self.faults
        now: list[Key] = []
        for symbol in self.symbols:
            key = (symbol, i)
            if key in faults.withhold or key in faults.no_trades:
                continue
            if key in faults.late:
                self._deferred.setdefault(i + faults.late[key], []).append((key, False))
                continue
            if key in faults.out_of_order:
                self._deferred.setdefault(i + 1, []).append((key, True))
                continue
            now.append(key)
            if key in faults.duplicate:
                self._deferred.setdefault(i + 1, []).append((key, False))
        later = self._deferred.pop(i, [])
        first = [k for k, after in later if not after]
        last = [k for k, after in later if after]
        return first + now + last

    async def _push(self, n: int) -> None:
        for _ in range(n):
            if self.pushed >= len(self.times):
                raise IndexError(f"no minute left to push ({len(self.times)} generated)")
            keys = self._frame(self.pushed)
            self.pushed += 1
            for ws, symbols in list(self._subscribers.items()):
                mine = [k for k in keys if k[0] in symbols]
                limit = self.faults.disconnect_after  # counts from when it is set
                if limit is not None and len(mine) >= limit - self._sent_since_fault:
                    await self._send(ws, mine[: limit - self._sent_since_fault])
                    await self._drop_all()
                    break
                if limit is not None:
                    self._sent_since_fault += len(mine)
                await self._send(ws, mine)

    async def _drop_all(self) -> None:
        """The disconnect fault: close every connection (code 1011, after the bars already
        written, which the client receives first)."""
        self.faults.disconnect_after = None
        self._sent_since_fault = 0
        for ws in list(self._subscribers):
            self._subscribers.pop(ws, None)
            await ws.close(1011, "fake disconnect")

    async def _send(self, ws: ServerConnection, keys: list[Key]) -> None:
        if not keys:
            return
        try:
            await ws.send(msgpack.packb([self._message(k) for k in keys]))
        except ConnectionClosed:
            self._subscribers.pop(ws, None)
            return
        self.sent.extend(keys)

    # ------------------------------------------------------------ websocket protocol
    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path not in STREAM_PATHS:
            return connection.respond(404, f"no stream at {request.path}\n")
        return None

    async def _session(self, ws: ServerConnection) -> None:
        self.stream_paths.append(ws.request.path if ws.request else "")
        await ws.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        try:
            auth = msgpack.unpackb(await ws.recv())
            self.auth_attempts += 1
            good = auth.get("key") == self.key and auth.get("secret") == self.secret
            refused = self.faults.auth_error or (None if good else (402, "auth failed"))
            if auth.get("action") != "auth" or refused is not None:
                code, text = refused or (401, "not authenticated")
                await ws.send(msgpack.packb([{"T": "error", "code": code, "msg": text}]))
                await ws.close()
                return
            await ws.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
            async for raw in ws:
                msg = msgpack.unpackb(raw)
                if msg.get("action") != "subscribe":
                    continue
                symbols = set(msg.get("bars", []))
                self._subscribers[ws] = symbols
                ack = {"T": "subscription", "trades": [], "quotes": [], "bars": sorted(symbols)}
                await ws.send(msgpack.packb([ack]))
                with self._cond:
                    self.subscriptions.append(
                        {"path": ws.request.path if ws.request else "", **msg}
                    )
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self._subscribers.pop(ws, None)

    # ------------------------------------------------------------ REST
    def answer(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one authorized REST request."""
        single = None
        if path.startswith("/v2/stocks/") and path.endswith("/bars") and path.count("/") == 4:
            single = path.split("/")[3]
        elif path != "/v2/stocks/bars":
            return 404, {"code": 40410000, "message": f"no route {path}"}
        try:
            timeframe_delta(q.get("timeframe", ""))
        except ValueError as exc:
            return 422, {"code": 42210000, "message": str(exc)}
        start = pd.Timestamp(q["start"]) if q.get("start") else None
        end = pd.Timestamp(q["end"]) if q.get("end") else None
        limit = min(int(q.get("limit") or self.page_size), self.page_size)
        offset = int(q.get("page_token") or 0)
        symbols = [single] if single else [s for s in q.get("symbols", "").split(",") if s]
        rows: list[tuple[str, dict[str, Any]]] = []
        for symbol in symbols:
            if symbol not in self.minutes:
                continue
            bars = aggregate(self.published(symbol), q["timeframe"])
            for t, row in bars.iterrows():
                stamp = pd.Timestamp(t)
                if (start is not None and stamp < start) or (end is not None and stamp > end):
                    continue
                rows.append((symbol, _wire(stamp, row)))
        page = rows[offset : offset + limit]
        token = str(offset + limit) if offset + limit < len(rows) else None
        if single:
            return 200, {"bars": [r for _, r in page], "symbol": single, "next_page_token": token}
        out: dict[str, list[dict[str, Any]]] = {}
        for symbol, row in page:
            out.setdefault(symbol, []).append(row)
        return 200, {"bars": out, "next_page_token": token, "currency": "USD"}


def _wire(stamp: pd.Timestamp, row: pd.Series) -> dict[str, Any]:
    close = float(row["close"])
    return wire_bar(
        stamp,
        float(row["open"]),
        float(row["high"]),
        float(row["low"]),
        close,
        float(row["volume"]),
        trades=100,
        vwap=close,
    )


class _RestHandler(MarketDataHandler):
    state: MarketData

    def record(self, path: str, query: dict[str, str]) -> None:
        self.state.rest_requests.append((path, query))


def feed_for(fake: MarketData, **options: Any) -> Any:
    """An :class:`~core.feeds.alpaca.AlpacaFeed` pointed at ``fake``: its keys and URLs,
    a ``CalendarClock`` on the fake's time (:meth:`MarketData.now`) and a backoff sleep
    that returns at once (override any of them in ``options``)."""
    from core.feeds.alpaca import AlpacaFeed
    from core.feeds.clock import CalendarClock

    options.setdefault("key", fake.key)
    options.setdefault("secret", fake.secret)
    options.setdefault("rest_url", fake.rest_url)
    options.setdefault("stream_url", fake.stream_url)
    options.setdefault("clock", CalendarClock(clock=fake.now))
    options.setdefault("sleep", lambda seconds: None)
    return AlpacaFeed(**options)


def environ(fake: MarketData) -> dict[str, str]:
    """Environment for code that builds its own feed (``core.config.environ_set``; call
    ``get_settings.cache_clear()`` after): keys and both URL overrides."""
    return {
        "ALPACA_API_KEY": fake.key,
        "ALPACA_SECRET_KEY": fake.secret,
        "WORKBENCH_ALPACA_DATA_URL": fake.rest_url,
        "WORKBENCH_ALPACA_STREAM_URL": fake.stream_url,
    }


def start_market_data(
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "IBM"), **options: Any
) -> MarketData:
    """A started :class:`MarketData` (call ``close()`` when done)."""
    return MarketData(symbols, **options).start()


@pytest.fixture
def market_data() -> Iterator[MarketData]:
    """A started fake market-data service (three symbols, two sessions from 30 Nov 2026)."""
    fake = start_market_data()
    try:
        yield fake
    finally:
        fake.close()


def minute_index(fake: MarketData, at: datetime | str) -> int:
    """Index of the minute starting at ``at`` (UTC) in the fake's data."""
    return int(fake.times.get_loc(pd.Timestamp(at, tz=UTC) if isinstance(at, str) else at))


__all__ = [
    "Faults",
    "MarketData",
    "aggregate",
    "environ",
    "feed_for",
    "market_data",
    "minute_index",
    "start_market_data",
]
