"""A fake Alpaca HTTP server on 127.0.0.1 that the real alpaca-py clients talk to.

It implements the trading endpoints ``TradingClient`` calls (account, positions, orders,
orders by client id, cancel one/all) and the market-data bars endpoints
``StockHistoricalDataClient`` calls (``/v2/stocks/bars``, ``/v2/stocks/bars/latest``
and the single-symbol ``/v2/stocks/{symbol}/bars``), with JSON shaped like Alpaca's so
alpaca-py's pydantic models parse it. Both clients can use the same base URL.

Fault injection: :meth:`FakeAlpaca.fail_next` (5xx), :meth:`FakeAlpaca.delay_next`
(process the request, then answer late — and never before the client has given up — so
the client times out),
:meth:`FakeAlpaca.reject_next_order` (403/422 with a message), ``fill_mode`` (``"none"``,
``"fill"``, ``"partial"``) and a 422 "client_order_id must be unique" on duplicates,
as Alpaca does. It never stores request headers (they carry the keys).
"""

from __future__ import annotations

import json
import math
import select
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

OPEN = {"new", "accepted", "pending_new", "partially_filled"}


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


def _num(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


@dataclass
class Recorded:
    """One request as the server saw it (no headers)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class _Rule:
    remaining: int
    status: int = 500
    seconds: float = 0.0
    method: str | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and (self.method is None or self.method == method)
            and (self.path is None or path == self.path)
        )


@dataclass
class _Position:
    qty: float = 0.0
    avg: float = 0.0


@dataclass
class FakeAlpaca:
    """State and fault controls of the fake server (start with :meth:`start`)."""

    key: str = "fake-key-id"
    secret: str = "fake-secret-key"
    cash: float = 100_000.0
    fill_mode: str = "none"
    partial_fraction: float = 0.5
    default_price: float = 100.0
    prices: dict[str, float] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, _Position] = field(default_factory=dict)
    bars: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    auth_failure_status: int = 401
    """Status of a request with wrong keys (Alpaca answers 401; some proxies 403)."""
    clock_now: datetime | None = None
    """Time of ``/v2/clock`` (None: the wall clock); sessions from tests.fakes.market_hours."""

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._rejections: list[tuple[int, str]] = []
        self.account_id = str(uuid.uuid4())
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeAlpaca:
        """Serve on a free port of 127.0.0.1 in a daemon thread."""
        fake = self

        class Handler(_Handler):
            server_state = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """Base URL for ``url_override`` (without ``/v2``)."""
        assert self._server is not None, "call start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------ controls
    def fail_next(
        self, n: int = 1, *, status: int = 500, method: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` (no state change)."""
        with self.lock:
            self._failures.append(_Rule(n, status=status, method=method, path=path))

    def delay_next(
        self, seconds: float, *, method: str | None = "POST", path: str | None = "/v2/orders"
    ) -> None:
        """Process the next matching request, then wait ``seconds`` before answering."""
        with self.lock:
            self._delays.append(_Rule(1, seconds=seconds, method=method, path=path))

    def clear_faults(self) -> None:
        """Drop every pending failure, delay and rejection."""
        with self.lock:
            self._failures.clear()
            self._delays.clear()
            self._rejections.clear()

    def reject_next_order(
        self, status: int = 403, message: str = "insufficient buying power"
    ) -> None:
        """Refuse the next order with ``status`` and Alpaca's error JSON."""
        with self.lock:
            self._rejections.append((status, message))

    def set_position(self, symbol: str, qty: float, avg_price: float) -> None:
        """Put a position on the account directly (e.g. a manual trade)."""
        with self.lock:
            self.positions[symbol] = _Position(qty, avg_price)

    def add_bars(self, symbol: str, rows: list[dict[str, Any]]) -> None:
        """Bars as dicts with keys t (datetime), o, h, l, c, v."""
        with self.lock:
            self.bars.setdefault(symbol, []).extend(rows)

    def fill(self, order_id: str, qty: float | None = None, price: float | None = None) -> None:
        """Fill ``qty`` more of an order (all that is left by default)."""
        with self.lock:
            order = self.orders[order_id]
            left = order["qty"] - order["filled_qty"]
            self._execute(order, left if qty is None else min(qty, left), price)

    def posted_orders(self) -> list[Recorded]:
        """Every POST /v2/orders that reached the order book (status 200)."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path == "/v2/orders" and r.status == 200
        ]

    def count(self, method: str, path: str) -> int:
        """How many requests hit ``method path``."""
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # ------------------------------------------------------------ state helpers
    def _price(self, symbol: str) -> float:
        return self.prices.get(symbol, self.default_price)

    def _execute(self, order: dict[str, Any], qty: float, price: float | None) -> None:
        if qty <= 0:
            return
        price = price if price is not None else self._price(order["symbol"])
        filled = order["filled_qty"] + qty
        avg = ((order["filled_avg_price"] or 0.0) * order["filled_qty"] + price * qty) / filled
        order.update(filled_qty=filled, filled_avg_price=avg, updated_at=_now())
        order["status"] = "filled" if filled >= order["qty"] - 1e-9 else "partially_filled"
        if order["status"] == "filled":
            order["filled_at"] = order["updated_at"]
        signed = qty if order["side"] == "buy" else -qty
        pos = self.positions.setdefault(order["symbol"], _Position())
        new_qty = pos.qty + signed
        if pos.qty == 0 or math.copysign(1, pos.qty) == math.copysign(1, signed):
            pos.avg = (abs(pos.qty) * pos.avg + qty * price) / abs(new_qty)
        elif abs(signed) > abs(pos.qty):
            pos.avg = price
        pos.qty = new_qty
        if abs(pos.qty) < 1e-12:
            del self.positions[order["symbol"]]
        self.cash -= signed * price

    def _equity(self) -> float:
        return self.cash + sum(p.qty * self._price(s) for s, p in self.positions.items())

    # ------------------------------------------------------------ JSON shapes
    def order_json(self, o: dict[str, Any]) -> dict[str, Any]:
        """An order as Alpaca returns it."""
        return {
            "id": o["id"],
            "client_order_id": o["client_order_id"],
            "created_at": _iso(o["created_at"]),
            "updated_at": _iso(o["updated_at"]),
            "submitted_at": _iso(o["created_at"]),
            "filled_at": _iso(o["filled_at"]) if o.get("filled_at") else None,
            "expired_at": None,
            "canceled_at": _iso(o["canceled_at"]) if o.get("canceled_at") else None,
            "failed_at": None,
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": o["asset_id"],
            "symbol": o["symbol"],
            "asset_class": "us_equity",
            "notional": None,
            "qty": _num(o["qty"]),
            "filled_qty": _num(o["filled_qty"]),
            "filled_avg_price": _num(o["filled_avg_price"]),
            "order_class": "simple",
            "order_type": o["type"],
            "type": o["type"],
            "side": o["side"],
            "time_in_force": o["time_in_force"],
            "limit_price": _num(o.get("limit_price")),
            "stop_price": None,
            "status": o["status"],
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }

    def account_json(self) -> dict[str, Any]:
        """The account as Alpaca returns it."""
        equity = self._equity()
        long_mv = sum(p.qty * self._price(s) for s, p in self.positions.items() if p.qty > 0)
        short_mv = sum(p.qty * self._price(s) for s, p in self.positions.items() if p.qty < 0)
        return {
            "id": self.account_id,
            "account_number": "PA3FAKE0001",
            "status": "ACTIVE",
            "crypto_status": "ACTIVE",
            "currency": "USD",
            "buying_power": _num(2 * self.cash),
            "regt_buying_power": _num(2 * self.cash),
            "daytrading_buying_power": "0",
            "non_marginable_buying_power": _num(self.cash),
            "cash": _num(self.cash),
            "accrued_fees": "0",
            "portfolio_value": _num(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2024-01-02T15:00:00Z",
            "trade_suspended_by_user": False,
            "multiplier": "2",
            "shorting_enabled": True,
            "equity": _num(equity),
            "last_equity": _num(equity),
            "long_market_value": _num(long_mv),
            "short_market_value": _num(short_mv),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
        }

    def position_json(self, symbol: str, p: _Position) -> dict[str, Any]:
        """A position as Alpaca returns it (shorts have negative qty)."""
        price = self._price(symbol)
        return {
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_OID, symbol)),
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _num(p.avg),
            "qty": _num(p.qty),
            "qty_available": _num(p.qty),
            "side": "long" if p.qty > 0 else "short",
            "market_value": _num(p.qty * price),
            "cost_basis": _num(p.qty * p.avg),
            "unrealized_pl": _num(p.qty * (price - p.avg)),
            "unrealized_plpc": "0",
            "unrealized_intraday_pl": "0",
            "unrealized_intraday_plpc": "0",
            "current_price": _num(price),
            "lastday_price": _num(price),
            "change_today": "0",
        }

    @staticmethod
    def bar_json(row: dict[str, Any]) -> dict[str, Any]:
        """A bar in the market-data API's short-key form."""
        return {
            "t": _iso(row["t"]),
            "o": row["o"],
            "h": row["h"],
            "l": row["l"],
            "c": row["c"],
            "v": row["v"],
            "n": row.get("n", 100),
            "vw": row.get("vw", row["c"]),
        }

    # ------------------------------------------------------------ routing
    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        """Compute the response ``(status, json)`` of one request."""
        with self.lock:
            for rule in self._failures:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    return rule.status, {"code": 50010000, "message": "internal server error"}
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, q: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "GET" and path in ("/v2/clock", "/v2/calendar"):
            from tests.fakes.market_hours import route

            return route(path, q, self.clock_now)
        if path == "/v2/account" and method == "GET":
            return 200, self.account_json()
        if path == "/v2/positions" and method == "GET":
            return 200, [self.position_json(s, p) for s, p in sorted(self.positions.items())]
        if path == "/v2/orders" and method == "POST":
            return self._create(body or {})
        if path == "/v2/orders" and method == "GET":
            return 200, self._list(q)
        if path == "/v2/orders" and method == "DELETE":
            out = []
            for o in self.orders.values():
                if o["status"] in OPEN:
                    o.update(status="canceled", canceled_at=_now(), updated_at=_now())
                    out.append({"id": o["id"], "status": 200, "body": None})
            return 207, out
        if path == "/v2/orders:by_client_order_id" and method == "GET":
            cid = q.get("client_order_id", "")
            for o in self.orders.values():
                if o["client_order_id"] == cid:
                    return 200, self.order_json(o)
            return 404, {"code": 40410000, "message": f"order not found for {cid}"}
        if path.startswith("/v2/orders/"):
            order = self.orders.get(path.rsplit("/", 1)[1])
            if order is None:
                return 404, {"code": 40410000, "message": "order not found"}
            if method == "GET":
                return 200, self.order_json(order)
            if method == "DELETE":
                if order["status"] not in OPEN:
                    return 422, {"code": 42210000, "message": "order is not cancelable"}
                order.update(status="canceled", canceled_at=_now(), updated_at=_now())
                return 204, None
        if method == "GET" and path == "/v2/stocks/bars":
            symbols = [s for s in q.get("symbols", "").split(",") if s]
            bars = {s: [self.bar_json(r) for r in self._bars(s, q)] for s in symbols}
            return 200, {"bars": bars, "next_page_token": None, "currency": "USD"}
        if method == "GET" and path == "/v2/stocks/bars/latest":
            symbols = [s for s in q.get("symbols", "").split(",") if s]
            latest = {s: self.bar_json(self.bars[s][-1]) for s in symbols if self.bars.get(s)}
            return 200, {"bars": latest}
        if method == "GET" and path.startswith("/v2/stocks/") and path.endswith("/bars"):
            symbol = path.split("/")[3]
            rows = [self.bar_json(r) for r in self._bars(symbol, q)]
            return 200, {"bars": rows, "symbol": symbol, "next_page_token": None}
        return 404, {"code": 40410000, "message": f"no route {method} {path}"}

    def _bars(self, symbol: str, q: dict[str, str]) -> list[dict[str, Any]]:
        rows = self.bars.get(symbol, [])
        if "start" in q:
            start = datetime.fromisoformat(q["start"].replace("Z", "+00:00"))
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            rows = [r for r in rows if r["t"] >= start]
        if "end" in q:
            end = datetime.fromisoformat(q["end"].replace("Z", "+00:00"))
            end = end if end.tzinfo else end.replace(tzinfo=UTC)
            rows = [r for r in rows if r["t"] <= end]
        if q.get("limit"):
            rows = rows[: int(q["limit"])]
        return rows

    def _list(self, q: dict[str, str]) -> list[dict[str, Any]]:
        status = q.get("status", "open")
        rows = [
            o
            for o in self.orders.values()
            if status == "all" or (o["status"] in OPEN) == (status == "open")
        ]
        rows.sort(key=lambda o: o["created_at"], reverse=True)
        return [self.order_json(o) for o in rows[: int(q.get("limit", 50))]]

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        cid = body.get("client_order_id") or str(uuid.uuid4())
        if any(o["client_order_id"] == cid for o in self.orders.values()):
            return 422, {"code": 40010001, "message": "client_order_id must be unique"}
        if self._rejections:
            status, message = self._rejections.pop(0)
            return status, {"code": 40310000 if status == 403 else 42210000, "message": message}
        qty = float(body.get("qty") or 0)
        if qty <= 0:
            return 422, {"code": 40010001, "message": "qty must be > 0"}
        now = _now()
        order = {
            "id": str(uuid.uuid4()),
            "client_order_id": cid,
            "symbol": body["symbol"],
            "asset_id": str(uuid.uuid5(uuid.NAMESPACE_OID, body["symbol"])),
            "qty": qty,
            "filled_qty": 0.0,
            "filled_avg_price": None,
            "side": body["side"],
            "type": body.get("type", "market"),
            "time_in_force": body.get("time_in_force", "day"),
            "limit_price": body.get("limit_price"),
            "status": "new",
            "created_at": now,
            "updated_at": now,
        }
        self.orders[order["id"]] = order
        if self.fill_mode == "fill":
            self._execute(order, qty, None)
        elif self.fill_mode == "partial":
            self._execute(order, math.floor(qty * self.partial_fraction), None)
        return 200, self.order_json(order)

    def take_delay(self, method: str, path: str) -> float:
        """Seconds to hold the answer of this request (consumes the rule)."""
        with self.lock:
            for rule in self._delays:
                if rule.matches(method, path):
                    rule.remaining -= 1
                    return rule.seconds
        return 0.0


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeAlpaca
    protocol_version = "HTTP/1.1"
    timeout = 10
    wbufsize = -1  # headers and body leave in one segment (no delayed-ACK stalls)
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _hold(self, seconds: float) -> None:
        """Hold the answer until the client gives up (closes the connection on its
        timeout), so the timeout is seen whatever the machine's load; at most
        ``max(seconds, 30)`` for a client that never times out."""
        deadline = time.monotonic() + max(seconds, 30.0)
        while True:
            left = deadline - time.monotonic()
            readable, _, _ = select.select([self.connection], [], [], max(left, 0.0))
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return  # the client closed the connection: it timed out
                except OSError:
                    return
                if left <= 0:
                    return
                time.sleep(0.01)  # data pending (not a close): keep holding
            elif left <= 0:
                return

    def _serve(self) -> None:
        fake = self.server_state
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        record = Recorded(self.command, parts.path, query, body)
        with fake.lock:
            fake.requests.append(record)
        key_ok = self.headers.get("APCA-API-KEY-ID") == fake.key
        authorized = key_ok and self.headers.get("APCA-API-SECRET-KEY") == fake.secret
        if not authorized:
            status = fake.auth_failure_status
            message = "request is not authorized" if status == 401 else "forbidden"
            payload = {"code": status * 100_000, "message": message}
        else:
            status, payload = fake.handle(self.command, parts.path, query, body)
        record.status = status
        delay = fake.take_delay(self.command, parts.path)
        if delay:
            self._hold(delay)
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PATCH = _serve
