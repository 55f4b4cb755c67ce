"""The live Alpaca feed: alpaca-py's REST bars for warm-up and gaps, its stream for live bars.

Constructor (keyword-only; what :func:`core.feeds.factory.make_feed` passes)::

    AlpacaFeed(
        timeframe="1Min",        # 1Min | 5Min | 15Min | 1Hour | 1Day
        data_feed="iex",         # "iex" (free, default) | "sip" (paid subscription)
        key=None, secret=None,   # default: ALPACA_API_KEY / ALPACA_SECRET_KEY (env, secrets)
        rest_url=None,           # default: settings.alpaca_data_url (WORKBENCH_ALPACA_DATA_URL)
        stream_url=None,         # default: settings.alpaca_stream_url (WORKBENCH_ALPACA_STREAM_URL)
        clock=None,              # a MarketClock (default CalendarClock("XNYS")), or a
                                 # () -> datetime time source for a CalendarClock
        sleep=None,              # backoff sleep of the stream thread (default: interruptible wait)
        wall=utc_now,            # wall clock of BarSet.received_at (latency origin)
        settle_s=15.0, queue_size=10_000, backoff_base_s=1.0, backoff_max_s=60.0,
        timeout_s=10.0, lookback_days=10, stale_after_s=None,
    )

How bars are made
-----------------
* **Minute bars are the unit.** The stream sends minute bars (``T: "b"``, stamped with the
  minute's START). Intraday timeframes are aggregated here from minute bars (open first,
  high max, low min, close last, volume sum) into buckets aligned on the timeframe in UTC
  (as Alpaca aligns its own 5Min/1Hour bars), keeping only regular-session minutes (the
  market clock's ``[open, close)``; pre/post-market bars are ignored). Warm-up history and
  gap fills use REST minute bars aggregated by the same code, so history and live bars
  agree. Labels follow :data:`core.feeds.base.LABEL_CONVENTION`: bucket start + timeframe,
  UTC-naive.
* **1Day** uses REST daily bars only (the stream's daily-bar channel sends running
  updates, not final bars): a session's bar is fetched once its close is ``settle_s``
  past; label = the New York trading date. No websocket is opened.
* **A bar set is complete** when every symbol has every session minute of the bucket from
  the stream. Otherwise, once the bucket is *over* (a stream bar of a later bucket has
  arrived, the clock is ``settle_s`` past its label, or a reconnect happened after it),
  the missing minutes come from REST; a symbol with no minute at all in the bucket gets a
  flat bar at its last close with volume 0. Both kinds are listed in ``BarSet.filled``.
  A REST failure keeps the set pending (retried on the next poll); sets are delivered
  strictly in order, each once.
* **Reconnects**: the stream runs in a daemon thread with its own asyncio loop, driving
  alpaca-py's ``StockDataStream`` connection steps (connect, auth, subscribe, consume)
  from a supervisor of ours, because alpaca-py's ``run()`` retries auth failures forever
  with fixed waits and logs tracebacks. Backoff after a failed or dropped connection:
  ``backoff_base_s * 2**(k-1)`` for the k-th consecutive failure, capped at
  ``backoff_max_s``; the count resets after a connection that delivered a bar. After a
  reconnect every bucket up to the reconnect time is over: its gap is filled from REST.
* **Slow consumer**: the stream thread never blocks. It puts raw minute bars into a
  bounded queue (``queue_size``) with ``put_nowait``; when full, the NEWEST bar is
  dropped and counted (``status().extra["queue_dropped"]``), and every bucket up to that
  minute's end counts as over: the assembler fills the missing minutes from REST, so
  nothing is lost, only made slower.
* **Auth**: wrong keys (stream ``auth failed`` or REST 401/403) raise
  :class:`~core.broker.base.BrokerConfigError` from :meth:`poll`/:meth:`history` with a
  sentence naming ``ALPACA_API_KEY``/``ALPACA_SECRET_KEY``; SIP without a subscription
  says to use ``data_feed="iex"``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from pydantic import SecretStr
from websockets.exceptions import WebSocketException

from core.broker.alpaca import KEY_NAMES, SECRET_NAMES, _resolve_secret
from core.broker.base import BrokerConfigError
from core.broker.resilience import harden
from core.feeds.base import TIMEFRAMES, BarSet, Feed, FeedStatus, Timeframe
from core.feeds.clock import NEW_YORK, CalendarClock, MarketClock, as_utc, utc_now

if TYPE_CHECKING:
    from alpaca.data.models import BarSet as AlpacaBarSet

log = logging.getLogger(__name__)

MINUTE = pd.Timedelta(minutes=1)
MINUTE_NS = 60_000_000_000
FIELDS = ("open", "high", "low", "close", "volume")
_FATAL_STREAM = ("auth failed", "not authenticated", "insufficient subscription", "forbidden")
_TRANSIENT_REST = (requests.Timeout, requests.ConnectionError)
_STOP = object()

Row = tuple[float, float, float, float, float]
"""open, high, low, close, volume of one minute."""


@dataclass(frozen=True)
class _Raw:
    symbol: str
    start_ns: int
    row: Row
    arrival: datetime


def _aggregate(rows: Sequence[Row]) -> dict[str, float]:
    """One bar from minute rows sorted by time."""
    return {
        "open": rows[0][0],
        "high": max(r[1] for r in rows),
        "low": min(r[2] for r in rows),
        "close": rows[-1][3],
        "volume": float(sum(r[4] for r in rows)),
    }


def _auth_error(what: str) -> BrokerConfigError:
    return BrokerConfigError(
        f"Alpaca refused the market-data keys ({what}): check ALPACA_API_KEY and "
        "ALPACA_SECRET_KEY (environment or .streamlit/secrets.toml) — they must be the "
        "key id and secret of one active Alpaca account"
    )


def _stream_error(text: str, data_feed: str) -> BrokerConfigError:
    if "insufficient subscription" in text:
        return BrokerConfigError(
            f"Alpaca refused the {data_feed.upper()} stream (insufficient subscription): the "
            "SIP feed needs a paid market-data subscription; use data_feed='iex'"
        )
    return _auth_error(f"stream: {text}")


class AlpacaFeed(Feed):
    """Closed bars from Alpaca (see the module docstring for the rules and parameters)."""

    kind = "alpaca"
    completes_after_close = True

    def __init__(
        self,
        *,
        timeframe: Timeframe = "1Min",
        data_feed: Literal["iex", "sip"] = "iex",
        key: str | SecretStr | None = None,
        secret: str | SecretStr | None = None,
        rest_url: str | None = None,
        stream_url: str | None = None,
        clock: MarketClock | Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
        wall: Callable[[], datetime] = utc_now,
        settle_s: float = 15.0,
        queue_size: int = 10_000,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        timeout_s: float = 10.0,
        lookback_days: int = 10,
        stale_after_s: float | None = None,
    ) -> None:
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"timeframe must be one of {', '.join(TIMEFRAMES)}; got {timeframe!r}")
        if data_feed not in ("iex", "sip"):
            raise ValueError(f"data_feed must be 'iex' or 'sip'; got {data_feed!r}")
        if queue_size < 1 or settle_s < 0 or backoff_base_s < 0 or lookback_days < 1:
            raise ValueError("queue_size, lookback_days must be >= 1; settle_s, backoff >= 0")
        from core.config import get_settings

        settings = get_settings()
        self.timeframe = timeframe
        self.data_feed = data_feed
        self._step = TIMEFRAMES[timeframe]
        self._daily = timeframe == "1Day"
        self._key = _resolve_secret(key, KEY_NAMES)
        self._secret = _resolve_secret(secret, SECRET_NAMES)
        self.rest_url = rest_url or settings.alpaca_data_url
        base = stream_url or settings.alpaca_stream_url
        self.stream_url = self._stream_endpoint(base)
        if clock is None:
            self.clock: MarketClock = CalendarClock()
        elif isinstance(clock, MarketClock):
            self.clock = clock
        else:
            self.clock = CalendarClock(clock=clock)
        self._sleep = sleep
        self._wall = wall
        self.settle = pd.Timedelta(seconds=settle_s)
        self._backoff = (backoff_base_s, backoff_max_s)
        self._lookback = pd.Timedelta(days=lookback_days)
        self._stale_after_s = stale_after_s
        self._rest = StockHistoricalDataClient(
            api_key=self._key.get_secret_value(),
            secret_key=self._secret.get_secret_value(),
            url_override=self.rest_url,
        )
        harden(self._rest, timeout_s)
        self._raw: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._received_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: StockDataStream | None = None
        self._shutdown_task: asyncio.Task[None] | None = None
        self._symbols: tuple[str, ...] = ()
        # shared with the stream thread (under _lock)
        self._connected = False
        self._connects = 0
        self._connect_failures = 0
        self._fatal: BrokerConfigError | None = None
        self._resync_upto: pd.Timestamp | None = None
        self._received = 0
        self._queue_dropped = 0
        self._last_message_at: datetime | None = None
        self._data_this_connection = False
        self.backoffs: list[float] = []
        """Every backoff delay the stream thread slept (for status and tests)."""
        # poll thread only
        self._cursor: pd.Timestamp | None = None
        self._pending: dict[pd.Timestamp, dict[str, dict[int, Row]]] = {}
        self._from_rest: dict[pd.Timestamp, set[str]] = {}
        self._arrivals: dict[pd.Timestamp, datetime] = {}
        self._max_stream_label: pd.Timestamp | None = None
        self._last_close: dict[str, float] = {}
        self._done: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._counts = dict.fromkeys(
            (
                "duplicates",
                "late",
                "reordered",
                "outside_session",
                "gap_filled",
                "carried_forward",
                "rest_calls",
                "rest_errors",
                "sets",
            ),
            0,
        )
        self._detail = ""
        self._started = False

    def __repr__(self) -> str:
        return f"AlpacaFeed(timeframe={self.timeframe!r}, data_feed={self.data_feed!r})"

    def _stream_endpoint(self, base: str | None) -> str | None:
        if not base:
            return None
        base = base.rstrip("/")
        if base.endswith(("/v2/iex", "/v2/sip")):
            return base
        return f"{base}/v2/{self.data_feed}"

    # ------------------------------------------------------------ labels and sessions
    def _label_ns(self, start_ns: int) -> int:
        step = int(self._step.value)
        return start_ns - start_ns % step + step

    def _session_minutes(self, a: pd.Timestamp, b: pd.Timestamp) -> np.ndarray[Any, Any]:
        """Minute starts (naive UTC ns) of regular-session minutes in ``[a, b)``."""
        parts: list[np.ndarray[Any, Any]] = []
        moment = as_utc(a)
        end = as_utc(b)
        while moment < end:
            if self.clock.is_open(moment):
                close = min(as_utc(self.clock.next_close(moment)), end)
                first = pd.Timestamp(moment).ceil("min")
                rng = pd.date_range(first, close, freq="1min", inclusive="left")
                parts.append(rng.tz_convert(None).as_unit("ns").asi8)
                moment = close
            else:
                moment = as_utc(self.clock.next_open(moment))
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def _buckets(self, upto: pd.Timestamp) -> dict[pd.Timestamp, np.ndarray[Any, Any]]:
        """Labels after the cursor up to ``upto`` -> their session minutes (ns)."""
        assert self._cursor is not None
        minutes = self._session_minutes(self._cursor.floor(self._step), upto)
        if minutes.size == 0:
            return {}
        step = int(self._step.value)
        labels = minutes - minutes % step + step
        keep = (labels <= upto.value) & (labels > self._cursor.value)
        minutes, labels = minutes[keep], labels[keep]
        if minutes.size == 0:
            return {}
        # minutes are sorted, so each label's minutes are one run
        unique, first = np.unique(labels, return_index=True)
        runs = np.split(minutes, first[1:])
        return {pd.Timestamp(int(lab)): run for lab, run in zip(unique, runs, strict=True)}

    def _now(self) -> pd.Timestamp:
        return pd.Timestamp(as_utc(self.clock.now())).tz_convert(None)

    # ------------------------------------------------------------ REST
    def _rest_call(self, request: StockBarsRequest) -> AlpacaBarSet | None:
        """One REST bars call; None after a transient failure (retried later)."""
        self._counts["rest_calls"] += 1
        try:
            return cast("AlpacaBarSet", self._rest.get_stock_bars(request))
        except APIError as exc:
            if exc.status_code in (401, 403):
                raise _auth_error(f"REST HTTP {exc.status_code}") from None
            if exc.status_code is not None and exc.status_code < 500 and exc.status_code != 429:
                raise BrokerConfigError(
                    f"Alpaca refused the bars request (HTTP {exc.status_code}): {exc}"
                ) from None
            failure = f"HTTP {exc.status_code}"
        except _TRANSIENT_REST as exc:
            failure = type(exc).__name__
        self._counts["rest_errors"] += 1
        self._detail = f"REST bars failed ({failure}); retrying on the next poll"
        log.warning("alpaca feed: %s", self._detail)
        return None

    def _rest_minutes(
        self, symbols: Sequence[str], first_ns: int, last_ns: int
    ) -> dict[str, dict[int, Row]] | None:
        """REST minute bars (start ns -> row) of ``symbols`` with start in [first, last]."""
        request = StockBarsRequest(
            symbol_or_symbols=list(symbols),
            timeframe=TimeFrame.Minute,
            start=pd.Timestamp(first_ns, tz=UTC).to_pydatetime(),
            end=pd.Timestamp(last_ns, tz=UTC).to_pydatetime(),
            feed=DataFeed(self.data_feed),
        )
        barset = self._rest_call(request)
        if barset is None:
            return None
        out: dict[str, dict[int, Row]] = {s: {} for s in symbols}
        for symbol, bars in barset.data.items():
            if symbol not in out:
                continue
            for b in bars:
                ns = pd.Timestamp(b.timestamp).tz_convert(None).value
                if first_ns <= ns <= last_ns:
                    out[symbol][ns] = (b.open, b.high, b.low, b.close, float(b.volume))
        return out

    def history(
        self, symbols: Sequence[str], *, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> dict[str, pd.DataFrame]:
        """Closed bars with ``start <= label <= end`` from REST (``end`` None: now;
        ``start`` None: ``lookback_days`` before ``end``), canonical frames.

        Raises
        ------
        BrokerConfigError
            Wrong keys, or a REST failure (history is needed before any work).
        """
        now = self._now()
        end_label = min(pd.Timestamp(end), now) if end is not None else now
        start_label = pd.Timestamp(start) if start is not None else end_label - self._lookback
        if self._daily:
            return self._daily_history(symbols, start_label, end_label)
        minutes = self._session_minutes(start_label - self._step, end_label)
        frames = {s: _empty_frame() for s in symbols}
        if minutes.size == 0:
            return frames
        got = self._rest_minutes(symbols, int(minutes[0]), int(minutes[-1]))
        if got is None:
            raise BrokerConfigError(f"Alpaca market data is unreachable: {self._detail}")
        allowed = set(minutes.tolist())
        for symbol in symbols:
            by_label: dict[int, list[Row]] = {}
            for ns in sorted(got[symbol]):
                if ns in allowed:
                    by_label.setdefault(self._label_ns(ns), []).append(got[symbol][ns])
            rows = {
                pd.Timestamp(label): _aggregate(r)
                for label, r in by_label.items()
                if start_label.value <= label <= end_label.value
            }
            frames[symbol] = _frame(rows)
        return frames

    def _daily_request(
        self, symbols: Sequence[str], first: pd.Timestamp, last: pd.Timestamp
    ) -> dict[str, dict[pd.Timestamp, dict[str, float]]] | None:
        lo = pd.Timestamp(first.date(), tz=NEW_YORK).tz_convert(UTC)
        hi = pd.Timestamp(last.date(), tz=NEW_YORK).tz_convert(UTC)
        request = StockBarsRequest(
            symbol_or_symbols=list(symbols),
            timeframe=TimeFrame.Day,
            start=lo.to_pydatetime(),
            end=hi.to_pydatetime(),
            feed=DataFeed(self.data_feed),
        )
        barset = self._rest_call(request)
        if barset is None:
            return None
        out: dict[str, dict[pd.Timestamp, dict[str, float]]] = {s: {} for s in symbols}
        for symbol, bars in barset.data.items():
            for b in bars if symbol in out else []:
                stamp = pd.Timestamp(b.timestamp).tz_convert(NEW_YORK).tz_localize(None)
                day = stamp.normalize().as_unit("ns")
                out[symbol][day] = dict(
                    zip(FIELDS, (b.open, b.high, b.low, b.close, float(b.volume)), strict=True)
                )
        return out

    def _closed_sessions(self, after: pd.Timestamp, upto: pd.Timestamp) -> list[pd.Timestamp]:
        """Trading dates (naive) after ``after`` whose close + settle is at or before ``upto``
        (``upto`` naive UTC)."""
        out: list[pd.Timestamp] = []
        moment = as_utc(pd.Timestamp(after.date(), tz=NEW_YORK) + pd.Timedelta(days=1))
        limit = as_utc(upto)
        while True:
            opened = as_utc(self.clock.next_open(moment - timedelta(microseconds=1)))
            closed = as_utc(self.clock.next_close(opened))
            if closed + self.settle.to_pytimedelta() > limit:
                return out
            day = pd.Timestamp(opened).tz_convert(NEW_YORK).tz_localize(None).normalize()
            out.append(day)
            moment = closed

    def _daily_history(
        self, symbols: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame]:
        days = self._closed_sessions(start.normalize() - pd.Timedelta(days=1), self._now())
        days = [d for d in days if start.normalize() <= d <= end]
        if not days:
            return {s: _empty_frame() for s in symbols}
        got = self._daily_request(symbols, days[0], days[-1])
        if got is None:
            raise BrokerConfigError(f"Alpaca market data is unreachable: {self._detail}")
        wanted = set(days)
        return {s: _frame({d: r for d, r in got[s].items() if d in wanted}) for s in symbols}

    # ------------------------------------------------------------ life cycle
    def start(self, symbols: Sequence[str], *, after: pd.Timestamp | None) -> None:
        """Deliver bar sets labelled after ``after`` (None: after the last closed bar).

        Raises
        ------
        BrokerConfigError
            Wrong keys, or a symbol with no bar in the ``lookback_days`` before ``after``.
        """
        if self._started:
            raise RuntimeError("AlpacaFeed.start() was already called")
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError("symbols must be a non-empty list of distinct names")
        self._started = True
        self._symbols = tuple(symbols)
        now = self._now()
        if after is not None:
            self._cursor = pd.Timestamp(after)
        elif self._daily:
            closed = self._closed_sessions(now - self._lookback, now)
            self._cursor = closed[-1] if closed else now.normalize() - pd.Timedelta(days=1)
        else:
            self._cursor = now.floor(self._step)
        seed = self.history(self._symbols, start=self._cursor - self._lookback, end=self._cursor)
        missing = [s for s in self._symbols if seed[s].empty]
        if missing:
            raise BrokerConfigError(
                f"Alpaca has no {self.timeframe} bars of {', '.join(missing)} on the "
                f"{self.data_feed.upper()} feed in the {self._lookback.days} days before "
                f"{self._cursor}: check the symbol(s)"
            )
        self._last_close = {s: float(seed[s]["close"].iloc[-1]) for s in self._symbols}
        if not self._daily:
            self._thread = threading.Thread(
                target=self._thread_main, name="alpaca-feed-stream", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Close the stream and its thread (idempotent)."""
        self._stopping.set()
        loop, stream = self._loop, self._stream
        if loop is not None and stream is not None and not loop.is_closed():

            def request() -> None:
                self._shutdown_task = loop.create_task(self._shutdown(stream))

            try:
                loop.call_soon_threadsafe(request)
            except RuntimeError:  # the loop closed meanwhile
                pass
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    @staticmethod
    async def _shutdown(stream: StockDataStream) -> None:
        await stream.stop_ws()
        await stream.close()

    # ------------------------------------------------------------ stream thread
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._supervise())
            task = self._shutdown_task
            if task is not None and not task.done():
                loop.run_until_complete(task)
        finally:
            loop.close()
        log.debug("alpaca feed stream thread ended")

    async def _on_bar(self, msg: Any) -> None:
        """alpaca-py's bar handler (raw msgpack dict): never blocks."""
        raw = _Raw(
            symbol=str(msg["S"]),
            start_ns=int(msg["t"].to_unix_nano()),
            row=(
                float(msg["o"]),
                float(msg["h"]),
                float(msg["l"]),
                float(msg["c"]),
                float(msg["v"]),
            ),
            arrival=self._wall(),
        )
        with self._received_cond:
            self._received += 1
            self._last_message_at = raw.arrival
            self._data_this_connection = True
            try:
                self._raw.put_nowait(raw)
            except queue.Full:
                # dropped: every bucket up to this minute's end is over; REST fills it
                self._queue_dropped += 1
                end = pd.Timestamp(raw.start_ns) + MINUTE
                if self._resync_upto is None or end > self._resync_upto:
                    self._resync_upto = end
            self._received_cond.notify_all()

    def _backoff_sleep(self, failures: int) -> None:
        base, cap = self._backoff
        delay = min(cap, base * 2.0 ** min(failures - 1, 60))
        self.backoffs.append(delay)
        if self._sleep is not None:
            self._sleep(delay)
        else:
            self._stopping.wait(delay)

    async def _supervise(self) -> None:
        stream = StockDataStream(
            self._key.get_secret_value(),
            self._secret.get_secret_value(),
            raw_data=True,
            feed=DataFeed(self.data_feed),
            url_override=self.stream_url,
            data_timeout=self._stale_after_s,
        )
        stream.subscribe_bars(self._on_bar, *self._symbols)
        self._stream = stream
        failures = 0
        while not self._stopping.is_set():
            self._data_this_connection = False
            try:
                await stream._start_ws()
                await stream._send_subscribe_msg()
                stream._running = True
                self._on_connected()
                stale = await stream._consume()
                if not stale:
                    break  # stop requested
                reason = "no data for stale_after_s"
            except ValueError as exc:
                text = str(exc)
                if any(word in text for word in _FATAL_STREAM):
                    with self._lock:
                        self._fatal = _stream_error(text, self.data_feed)
                    log.error("alpaca feed: %s", self._fatal)
                    self._wake()
                    break
                reason = text
            except (TimeoutError, WebSocketException, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug or an unexpected frame: log it, keep streaming
                log.exception("alpaca feed: unexpected stream error")
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                await stream.close()
                stream._running = False
                with self._lock:
                    self._connected = False
            if self._stopping.is_set():
                break
            failures = 1 if self._data_this_connection else failures + 1
            with self._lock:
                self._connect_failures += 1
                self._detail = f"stream disconnected ({reason}); reconnecting"
            log.warning("alpaca feed: %s", self._detail)
            self._backoff_sleep(failures)

    def _on_connected(self) -> None:
        with self._lock:
            self._connects += 1
            self._connected = True
            if self._connects > 1:
                # every bucket closed by now is over: fill its gap from REST
                self._resync_upto = self._now()
                self._detail = "stream reconnected; gap filled from REST"

    def _wake(self) -> None:
        try:
            self._raw.put_nowait(_STOP)
        except queue.Full:
            pass

    def wait_received(self, count: int, timeout_s: float) -> bool:
        """Wait until the stream has handed ``count`` bars in all to the feed (tests,
        benchmarks); whether it did in time."""
        with self._received_cond:
            return self._received_cond.wait_for(lambda: self._received >= count, timeout_s)

    # ------------------------------------------------------------ assembling (poll thread)
    def _take(self, item: Any) -> None:
        if item is _STOP or not isinstance(item, _Raw):
            return
        if item.symbol not in self._symbols:
            return
        start = pd.Timestamp(item.start_ns, tz=UTC)
        if not self.clock.is_open(start.to_pydatetime()):
            self._counts["outside_session"] += 1
            return
        label = pd.Timestamp(self._label_ns(item.start_ns))
        key = (item.symbol, item.start_ns)
        assert self._cursor is not None
        if label <= self._cursor:
            self._counts["duplicates" if key in self._done else "late"] += 1
            return
        minutes = self._pending.setdefault(label, {}).setdefault(item.symbol, {})
        if item.start_ns in minutes:
            self._counts["duplicates"] += 1
            return
        if minutes and item.start_ns < max(minutes):
            self._counts["reordered"] += 1
        minutes[item.start_ns] = item.row
        self._arrivals[label] = max(self._arrivals.get(label, item.arrival), item.arrival)
        if self._max_stream_label is None or label > self._max_stream_label:
            self._max_stream_label = label

    def _drain(self) -> None:
        while True:
            try:
                self._take(self._raw.get_nowait())
            except queue.Empty:
                return

    def _over_upto(self) -> pd.Timestamp:
        """Labels at or before this are over (their bucket can get no more stream bars)."""
        horizon = self._now() - self.settle
        if self._max_stream_label is not None:
            horizon = max(horizon, self._max_stream_label - pd.Timedelta(1))
        with self._lock:
            resync = self._resync_upto
        if resync is not None:
            horizon = max(horizon, resync)
        return horizon

    def _assemble(self) -> list[BarSet]:
        assert self._cursor is not None
        over = self._over_upto()
        upto = max([over, *self._pending]) if self._pending else over
        if upto <= self._cursor:
            return []
        buckets = self._buckets(upto)
        ready: list[pd.Timestamp] = []
        to_fill: dict[pd.Timestamp, list[str]] = {}
        for label, minutes in buckets.items():
            have = self._pending.get(label, {})
            missing = [s for s in self._symbols if len(have.get(s, {})) < minutes.size]
            if not missing:
                ready.append(label)
            elif label <= over:
                ready.append(label)
                to_fill[label] = missing
            else:
                break
        if to_fill and not self._fill(to_fill, buckets):
            first = min(to_fill)
            ready = [label for label in ready if label < first]
        return [self._emit(label, buckets[label]) for label in ready]

    def _fill(
        self, to_fill: dict[pd.Timestamp, list[str]], buckets: dict[pd.Timestamp, Any]
    ) -> bool:
        """REST minutes for the missing symbols of ``to_fill`` (one call); False on failure."""
        symbols = sorted({s for missing in to_fill.values() for s in missing})
        first = int(buckets[min(to_fill)][0])
        last = int(buckets[max(to_fill)][-1])
        got = self._rest_minutes(symbols, first, last)
        if got is None:
            return False
        for label, missing in to_fill.items():
            allowed = set(buckets[label].tolist())
            for symbol in missing:
                have = self._pending.setdefault(label, {}).setdefault(symbol, {})
                added = {ns: r for ns, r in got[symbol].items() if ns in allowed and ns not in have}
                have.update(added)
                if added or not have:
                    self._from_rest.setdefault(label, set()).add(symbol)
        return True

    def _emit(self, label: pd.Timestamp, minutes: Any) -> BarSet:
        have = self._pending.pop(label, {})
        filled = self._from_rest.pop(label, set())
        arrival = self._arrivals.pop(label, None)
        bars: dict[str, dict[str, float]] = {}
        for symbol in self._symbols:
            rows_by_ns = have.get(symbol, {})
            if rows_by_ns:
                bars[symbol] = _aggregate([rows_by_ns[ns] for ns in sorted(rows_by_ns)])
            else:
                last = self._last_close[symbol]
                bars[symbol] = dict(zip(FIELDS, (last, last, last, last, 0.0), strict=True))
                self._counts["carried_forward"] += 1
                filled.add(symbol)
            self._last_close[symbol] = bars[symbol]["close"]
            for ns in rows_by_ns:
                self._remember((symbol, ns))
        self._counts["gap_filled"] += len(filled)
        self._counts["sets"] += 1
        self._cursor = label
        received = arrival if arrival is not None and not filled else self._wall()
        return BarSet(
            ts=label,
            bars=bars,
            received_at=received,
            filled=tuple(s for s in self._symbols if s in filled),
        )

    def _remember(self, key: tuple[str, int]) -> None:
        self._done[key] = None
        while len(self._done) > 50_000:
            self._done.popitem(last=False)

    def _assemble_daily(self) -> list[BarSet]:
        assert self._cursor is not None
        days = self._closed_sessions(self._cursor, self._now())
        if not days:
            return []
        got = self._daily_request(self._symbols, days[0], days[-1])
        if got is None:
            return []
        out: list[pd.Timestamp] = []
        for day in days:
            bars, filled = {}, []
            for symbol in self._symbols:
                bar = got[symbol].get(day)
                if bar is None:
                    last = self._last_close[symbol]
                    bar = dict(zip(FIELDS, (last, last, last, last, 0.0), strict=True))
                    filled.append(symbol)
                    self._counts["carried_forward"] += 1
                bars[symbol] = bar
                self._last_close[symbol] = bar["close"]
            self._counts["gap_filled"] += len(filled)
            self._counts["sets"] += 1
            self._cursor = day
            out.append(BarSet(ts=day, bars=bars, received_at=self._wall(), filled=tuple(filled)))
        return out

    def poll(self, timeout_s: float) -> list[BarSet]:
        """Bar sets completed since the last call, oldest first (waits at most
        ``timeout_s`` for the first one).

        Raises
        ------
        BrokerConfigError
            The stream or REST refused the keys (or the SIP subscription).
        """
        if not self._started:
            raise RuntimeError("call AlpacaFeed.start() before poll()")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        while True:
            with self._lock:
                fatal = self._fatal
            if fatal is not None:
                raise fatal
            if self._daily:
                sets = self._assemble_daily()
            else:
                self._drain()
                sets = self._assemble()
            if sets:
                self._detail = "" if self._detail.startswith("REST") else self._detail
                return sets
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            if self._daily:
                self._stopping.wait(min(left, 1.0))
                continue
            try:
                self._take(self._raw.get(timeout=min(left, 0.25)))
            except queue.Empty:
                pass

    def status(self) -> FeedStatus:
        """Connection state and counters (``extra``: stream and REST figures)."""
        with self._lock:
            connected = self._connected if not self._daily else self._fatal is None
            reconnects = max(self._connects - 1, 0)
            detail = str(self._fatal) if self._fatal is not None else self._detail
            extra = {
                "received": float(self._received),
                "queue_dropped": float(self._queue_dropped),
                "connect_failures": float(self._connect_failures),
                "queued": float(self._raw.qsize()),
            }
            last_message = self._last_message_at
        extra.update({k: float(v) for k, v in self._counts.items() if k != "duplicates"})
        return FeedStatus(
            kind="alpaca",
            timeframe=self.timeframe,
            connected=connected,
            reconnects=reconnects,
            last_bar_ts=self._cursor if self._counts["sets"] else None,
            last_message_at=last_message,
            duplicates_dropped=self._counts["duplicates"],
            out_of_order_dropped=self._counts["late"],
            gap_bars_filled=self._counts["gap_filled"],
            detail=detail,
            extra=extra,
        )


def _empty_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in FIELDS})
    frame.index = pd.DatetimeIndex([], name="date").as_unit("ns")
    return frame


def _frame(rows: dict[pd.Timestamp, dict[str, float]]) -> pd.DataFrame:
    if not rows:
        return _empty_frame()
    frame = pd.DataFrame.from_dict(rows, orient="index")[list(FIELDS)].astype("float64")
    frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
    return frame.sort_index()


__all__ = ["AlpacaFeed"]
