"""What the fake Alpaca market-data REST services share (:mod:`tests.fakes.alpaca_data_server`
and :mod:`tests.fakes.alpaca_stream`): a bar in Alpaca's wire format, the GET handler
that checks the key headers and answers JSON, and serving it on a free local port.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit


def wire_bar(
    stamp: datetime,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    *,
    trades: int,
    vwap: float,
) -> dict[str, Any]:
    """One bar as Alpaca sends it: short keys, an RFC 3339 UTC timestamp (``...Z``)."""
    return {
        "t": stamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "o": open_,
        "h": high,
        "l": low,
        "c": close,
        "v": volume,
        "n": trades,
        "vw": vwap,
    }


class MarketDataState(Protocol):
    """What the handler reads of a fake: its keys and its answer to a request."""

    key: str
    secret: str

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body of one authorized request."""
        ...


class MarketDataHandler(BaseHTTPRequestHandler):
    """GET handler of a fake market-data service: records the path and query
    (:meth:`record`, never the headers), answers 401 without the fake's keys, else
    ``state.answer`` as JSON. Subclass with ``state`` set to the fake."""

    state: MarketDataState
    protocol_version = "HTTP/1.1"
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log."""

    def record(self, path: str, query: dict[str, str]) -> None:
        """Keep one request's path and query on the fake (override)."""

    def do_GET(self) -> None:
        fake = self.state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.record(parts.path, query)
        authorized = (
            self.headers.get("APCA-API-KEY-ID") == fake.key
            and self.headers.get("APCA-API-SECRET-KEY") == fake.secret
        )
        if authorized:
            status, payload = fake.answer(parts.path, query)
        else:
            status, payload = 401, {"code": 40110000, "message": "request is not authorized"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` served on a free port of 127.0.0.1 in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server
