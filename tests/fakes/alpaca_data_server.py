"""A fake Alpaca market-data server on 127.0.0.1 for the real ``StockHistoricalDataClient``.

It serves ``GET /v2/stocks/bars`` in Alpaca's wire format, as alpaca-py's
``RESTClient._get_marketdata`` reads it: ``{"bars": {SYMBOL: [{"t", "o", "h", "l", "c",
"v", "n", "vw"}, ...]}, "next_page_token": TOKEN | null}``, paginated by ``limit`` and
``page_token`` (a small ``page_size`` forces the client through several pages). Daily
bars are stamped at midnight New York time in UTC (``05:00Z`` in winter, ``04:00Z`` in
summer), as Alpaca does. It checks the key headers (401 otherwise) and records each
request's path and query (never its headers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from tests.fakes.market_data_http import MarketDataHandler, serve, wire_bar

NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class DailyBar:
    """One daily bar; ``day`` is the New York trading date."""

    day: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float

    def wire(self) -> dict[str, Any]:
        """The bar as Alpaca sends it (short keys, RFC 3339 UTC timestamp)."""
        stamp = datetime(self.day.year, self.day.month, self.day.day, tzinfo=NEW_YORK)
        vwap = round((self.high + self.low + self.close) / 3, 4)
        return wire_bar(
            stamp, self.open, self.high, self.low, self.close, self.volume, trades=1000, vwap=vwap
        )


def seeded_bars(n: int, *, seed: int, start: str = "2021-01-04") -> list[DailyBar]:
    """``n`` consistent business-day bars (low <= open, close <= high) from a seed."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    opens = close * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(opens, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(opens, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.integers(1_000, 100_000, n).astype(float)
    days = pd.bdate_range(start, periods=n)
    return [
        DailyBar(d.to_pydatetime(), float(o), float(h), float(lo), float(c), float(v))
        for d, o, h, lo, c, v in zip(days, opens, high, low, close, volume, strict=True)
    ]


@dataclass
class FakeAlpacaData:
    """State of the fake market-data server (start with :meth:`start`)."""

    key: str = "data-key-id"
    secret: str = "data-secret-key"
    page_size: int = 10_000
    bars: dict[str, list[DailyBar]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeAlpacaData:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        fake = self

        class Handler(_Handler):
            state = fake

        self._server = serve(Handler)
        return self

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """Base URL (without ``/v2``), for ``WORKBENCH_ALPACA_DATA_URL``."""
        assert self._server is not None, "call start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one authorized request."""
        if path != "/v2/stocks/bars":
            return 404, {"code": 40410000, "message": f"no route {path}"}
        if q.get("timeframe") != "1Day":
            return 422, {"code": 42210000, "message": f"timeframe {q.get('timeframe')} not faked"}
        start = pd.Timestamp(q["start"]) if "start" in q else None
        limit = min(int(q.get("limit") or self.page_size), self.page_size)
        offset = int(q.get("page_token") or 0)
        out: dict[str, list[dict[str, Any]]] = {}
        token: str | None = None
        for symbol in [s for s in q.get("symbols", "").split(",") if s]:
            rows = [b.wire() for b in self.bars.get(symbol, [])]
            if start is not None:
                rows = [r for r in rows if pd.Timestamp(r["t"]) >= start]
            page = rows[offset : offset + limit]
            if page:
                out[symbol] = page
            if offset + limit < len(rows):
                token = str(offset + limit)
        return 200, {"bars": out, "next_page_token": token, "currency": "USD"}


class _Handler(MarketDataHandler):
    state: FakeAlpacaData

    def record(self, path: str, query: dict[str, str]) -> None:
        with self.state.lock:
            self.state.requests.append((path, query))
