"""Alpaca (paper by default) through alpaca-py, with retries, a circuit breaker and
idempotent submission.

* **Keys** come from the arguments or ``core.config.get_settings().secret(...)``
  (environment, then ``.streamlit/secrets.toml``); they are held as ``SecretStr``,
  passed only to alpaca-py, and never logged or stored.
* **Retries**: timeouts, connection errors, 429 and 5xx are retried with bounded
  exponential backoff (:class:`RetryPolicy`); 4xx are not. alpaca-py's own fixed 3 s
  retry loop is turned off so this policy is the only one.
* **Circuit breaker**: consecutive transient failures open it; calls then fail fast with
  :class:`CircuitOpenError` until the cool-down allows one trial call.
* **Idempotency**: every order carries a ``client_order_id``. After a timeout or 5xx on
  submit the order is looked up by that id before any retry; a 422 "client_order_id must
  be unique" returns the existing order. So one key never makes two orders.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pandas as pd
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest
from pydantic import SecretStr

from core.broker.base import (
    BrokerAccount,
    BrokerConfigError,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailableError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderRequest,
)
from core.broker.ledger import MirroredBroker
from core.broker.resilience import CircuitBreaker, RetryPolicy, harden

# alpaca-py annotates every call as "model | RawData"; our clients never pass raw_data=True,
# so the results are cast to the model.
if TYPE_CHECKING:
    from alpaca.data.models import BarSet
    from alpaca.trading.models import Position, TradeAccount

log = logging.getLogger(__name__)
T = TypeVar("T")

KEY_NAMES = ("ALPACA_API_KEY", "APCA_API_KEY_ID")
SECRET_NAMES = ("ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY")
_TRANSIENT = (requests.Timeout, requests.ConnectionError)
_DUPLICATE = "client_order_id must be unique"


def _resolve_secret(value: str | SecretStr | None, names: tuple[str, ...]) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if value:
        return SecretStr(value)
    from core.config import get_settings

    settings = get_settings()
    for name in names:
        found = settings.secret(name)
        if found is not None:
            return found
    raise BrokerConfigError(
        f"{names[0]} is not set: export it in the environment or add it to "
        ".streamlit/secrets.toml (see secrets.toml.example)"
    )


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _TRANSIENT):
        return True
    if isinstance(exc, APIError):
        status = exc.status_code
        return status is None or status >= 500 or status == 429
    return False


def _api_message(exc: APIError) -> str:
    try:
        return str(exc.message)
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return str(exc)[:500]


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no error"
    if isinstance(exc, APIError):
        return f"HTTP {exc.status_code}: {_api_message(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _num(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def _to_order(o: AlpacaOrder) -> BrokerOrder:
    side = o.side.value if o.side is not None else "buy"
    order_type = o.order_type or o.type
    return BrokerOrder(
        id=str(o.id),
        client_order_id=o.client_order_id,
        symbol=o.symbol or "",
        side="sell" if side == "sell" else "buy",
        qty=float(o.qty or 0.0),
        filled_qty=float(o.filled_qty or 0.0),
        avg_fill_price=_num(o.filled_avg_price),
        status=o.status.value,
        order_type=order_type.value if order_type is not None else "market",
        limit_price=_num(o.limit_price),
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


class AlpacaBroker(MirroredBroker):
    """The :class:`~core.broker.base.Broker` for Alpaca's trading and market-data APIs.

    Alpaca has a market of its own: bars' prices are ignored and the local ledger
    mirrors its orders and balances (:class:`~core.broker.ledger.MirroredBroker`).

    Parameters
    ----------
    key, secret
        API key id and secret; default from ``ALPACA_API_KEY`` / ``ALPACA_SECRET_KEY``.
    paper
        Use the paper-trading endpoint (default). Live trading also needs ``allow_live``.
    url_override
        Base URL of the trading API (tests point it at a local fake server).
    data_url_override
        Base URL of the market-data API; defaults to ``url_override`` when that is set.
    timeout_s
        Connect and read timeout of each HTTP request.
    retry
        Backoff policy for transient failures.
    breaker
        Circuit breaker shared by every call (default: 5 failures, 30 s cool-down).
    sleep
        Sleep function used between retries (injectable for tests).
    allow_live
        Required with ``paper=False``.
    """

    name = "alpaca"

    def __init__(
        self,
        *,
        key: str | SecretStr | None = None,
        secret: str | SecretStr | None = None,
        paper: bool = True,
        url_override: str | None = None,
        data_url_override: str | None = None,
        timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
        allow_live: bool = False,
    ) -> None:
        if not paper and not allow_live:
            raise BrokerConfigError(
                "live trading is disabled: use paper=True, or pass allow_live=True deliberately"
            )
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive; got {timeout_s}")
        api_key = _resolve_secret(key, KEY_NAMES)
        api_secret = _resolve_secret(secret, SECRET_NAMES)
        self.paper = paper
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self._sleep = sleep
        self._trading = TradingClient(
            api_key=api_key.get_secret_value(),
            secret_key=api_secret.get_secret_value(),
            paper=paper,
            url_override=url_override,
        )
        self._data = StockHistoricalDataClient(
            api_key=api_key.get_secret_value(),
            secret_key=api_secret.get_secret_value(),
            url_override=data_url_override or url_override,
        )
        harden(self._trading, timeout_s)
        harden(self._data, timeout_s)
        self.base_url = str(self._trading._base_url)

    def __repr__(self) -> str:
        return f"AlpacaBroker(paper={self.paper}, base_url={self.base_url!r})"

    # ------------------------------------------------------------ call machinery
    def _call(self, op: str, fn: Callable[[], T], *, attempts: int | None = None) -> T:
        """Run ``fn`` with retries on transient errors, guarded by the circuit breaker."""
        attempts = attempts or self.retry.max_attempts
        last: BaseException | None = None
        for attempt in range(attempts):
            self.breaker.before_call()
            try:
                result = fn()
            except APIError as exc:
                if not _is_transient(exc):
                    self.breaker.record_success()  # the service answered
                    raise self._client_error(op, exc) from exc
                last = exc
            except _TRANSIENT as exc:
                last = exc
            else:
                self.breaker.record_success()
                return result
            self._failed(op, attempt, attempts, last)
        raise BrokerUnavailableError(
            f"alpaca {op} failed after {attempts} attempt(s): {_describe(last)}"
        ) from last

    def _failed(self, op: str, attempt: int, attempts: int, exc: BaseException | None) -> None:
        self.breaker.record_failure()
        log.warning("alpaca %s attempt %d/%d failed: %s", op, attempt + 1, attempts, _describe(exc))
        if self.breaker.state == "open":
            log.error("alpaca circuit open after %d failures", self.breaker.consecutive_failures)
        if attempt + 1 < attempts:
            self._sleep(self.retry.delay(attempt))

    @staticmethod
    def _client_error(op: str, exc: APIError) -> Exception:
        message = _api_message(exc)
        if exc.status_code == 401:
            return BrokerConfigError(
                f"alpaca refused the credentials for {op} (HTTP 401): check ALPACA_API_KEY "
                "and ALPACA_SECRET_KEY, and that they are paper keys when paper=True"
            )
        if exc.status_code == 403 and op not in ("order", "cancel", "cancel_all"):
            return BrokerConfigError(
                f"alpaca refused access for {op} (HTTP 403: {message}): check that "
                "ALPACA_API_KEY and ALPACA_SECRET_KEY belong to the same paper account and "
                "are still active"
            )
        if exc.status_code == 404:
            return OrderNotFoundError(f"alpaca {op}: {message}")
        return OrderRejectedError(
            f"alpaca rejected {op} (HTTP {exc.status_code}): {message}",
            status_code=exc.status_code,
        )

    # ------------------------------------------------------------------ reads
    def account(self) -> BrokerAccount:
        """Cash, equity and buying power."""
        a = cast("TradeAccount", self._call("account", self._trading.get_account))
        return BrokerAccount(
            broker="alpaca",
            account_id=a.account_number,
            cash=float(a.cash or 0.0),
            equity=float(a.equity or 0.0),
            buying_power=_num(a.buying_power),
            currency=a.currency or "USD",
        )

    def positions(self) -> list[BrokerPosition]:
        """Open positions (shorts negative)."""
        out = []
        for p in cast("list[Position]", self._call("positions", self._trading.get_all_positions)):
            qty = float(p.qty)
            if p.side.value == "short" and qty > 0:
                qty = -qty
            price = _num(p.current_price)
            out.append(BrokerPosition(p.symbol, qty, float(p.avg_entry_price), price))
        return out

    def open_orders(self) -> list[BrokerOrder]:
        """Orders that may still fill (up to 500, Alpaca's page limit)."""
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        orders = cast(
            "list[AlpacaOrder]",
            self._call("open_orders", lambda: self._trading.get_orders(request)),
        )
        return [_to_order(o) for o in orders]

    def get_order(self, order_id: str) -> BrokerOrder | None:
        """One order by Alpaca id."""
        try:
            return _to_order(
                cast(
                    AlpacaOrder,
                    self._call("get_order", lambda: self._trading.get_order_by_id(order_id)),
                )
            )
        except OrderNotFoundError:
            return None

    def get_order_by_client_id(
        self, client_order_id: str, *, attempts: int | None = None
    ) -> BrokerOrder | None:
        """One order by idempotency key (``None`` when Alpaca has none)."""
        try:
            order = self._call(
                "get_order_by_client_id",
                lambda: self._trading.get_order_by_client_id(client_order_id),
                attempts=attempts,
            )
        except OrderNotFoundError:
            return None
        return _to_order(cast(AlpacaOrder, order))

    def latest_price(self, symbol: str) -> float | None:
        """Close of the latest bar."""
        request = StockLatestBarRequest(symbol_or_symbols=symbol)
        bars = self._call("latest_price", lambda: self._data.get_stock_latest_bar(request))
        bar = bars.get(symbol)
        return float(bar.close) if bar is not None else None

    def bars(
        self,
        symbol: str,
        *,
        start: datetime,
        end: datetime | None = None,
        timeframe: str = "1Day",
    ) -> pd.DataFrame:
        """OHLCV bars (UTC index; columns open, high, low, close, volume).

        Parameters
        ----------
        timeframe
            ``"1Day"``, ``"1Hour"`` or ``"<n>Min"``.
        """
        request = StockBarsRequest(
            symbol_or_symbols=symbol, timeframe=_timeframe(timeframe), start=start, end=end
        )
        barset = cast("BarSet", self._call("bars", lambda: self._data.get_stock_bars(request)))
        rows = barset.data.get(symbol, [])
        frame = pd.DataFrame(
            [(b.timestamp, b.open, b.high, b.low, b.close, b.volume) for b in rows],
            columns=["timestamp", "open", "high", "low", "close", "volume"],
        )
        return frame.set_index(pd.DatetimeIndex(frame.pop("timestamp"), name="timestamp"))

    # ------------------------------------------------------------------ writes
    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Submit an order exactly once per ``client_order_id``.

        Raises
        ------
        OrderRejectedError
            Alpaca refused it (e.g. HTTP 403 insufficient buying power); not retried.
        BrokerUnavailableError
            Every attempt failed; the order may or may not exist: look it up later with
            :meth:`get_order_by_client_id` (reconciliation does).
        """
        request = _to_request(order)
        cid = order.client_order_id
        attempts = self.retry.max_attempts
        last: BaseException | None = None
        for attempt in range(attempts):
            self.breaker.before_call()
            try:
                placed = self._trading.submit_order(request)
            except APIError as exc:
                if not _is_transient(exc):
                    self.breaker.record_success()
                    if exc.status_code == 422 and _DUPLICATE in _api_message(exc):
                        existing = self.get_order_by_client_id(cid)
                        if existing is not None:
                            log.info("alpaca order %s already exists; returning it", cid)
                            return existing
                    log.warning("alpaca rejected order %s: %s", cid, _describe(exc))
                    raise self._client_error("order", exc) from exc
                last = exc
            except _TRANSIENT as exc:
                last = exc
            else:
                self.breaker.record_success()
                log.info(
                    "alpaca order %s submitted: %s %g %s", cid, order.side, order.qty, order.symbol
                )
                return _to_order(cast(AlpacaOrder, placed))
            # The request may have reached Alpaca before failing: look before retrying.
            self.breaker.record_failure()
            log.warning(
                "alpaca submit %s attempt %d/%d failed: %s",
                *(cid, attempt + 1, attempts, _describe(last)),
            )
            try:
                existing = self.get_order_by_client_id(cid, attempts=1)
            except OrderRejectedError:
                raise
            except BrokerUnavailableError:
                existing = None
            if existing is not None:
                log.info("alpaca order %s found after a failed submit; not resubmitting", cid)
                return existing
            if attempt + 1 < attempts:
                self._sleep(self.retry.delay(attempt))
        raise BrokerUnavailableError(
            f"alpaca submit {cid} failed after {attempts} attempt(s): {_describe(last)}; "
            "the order may exist: reconcile by client_order_id"
        ) from last

    def cancel(self, order_id: str) -> None:
        """Cancel one order (404 -> OrderNotFoundError, 422 -> OrderRejectedError)."""
        self._call("cancel", lambda: self._trading.cancel_order_by_id(order_id))

    def cancel_all(self) -> int:
        """Cancel every open order; returns how many Alpaca tried to cancel."""
        return len(self._call("cancel_all", self._trading.cancel_orders) or [])


def _to_request(order: OrderRequest) -> MarketOrderRequest | LimitOrderRequest:
    common: dict[str, Any] = {
        "symbol": order.symbol,
        "qty": order.qty,
        "side": OrderSide(order.side),
        "time_in_force": TimeInForce(order.time_in_force),
        "client_order_id": order.client_order_id,
    }
    if order.order_type == "limit":
        return LimitOrderRequest(limit_price=order.limit_price, **common)
    return MarketOrderRequest(**common)


def _timeframe(text: str) -> TimeFrame:
    units = {"Min": TimeFrameUnit.Minute, "Hour": TimeFrameUnit.Hour, "Day": TimeFrameUnit.Day}
    for suffix, unit in units.items():
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return TimeFrame(int(text[: -len(suffix)]), unit)
    raise ValueError(f"timeframe must look like '1Day', '1Hour' or '5Min'; got {text!r}")
