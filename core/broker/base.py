"""The broker interface: typed orders, positions and account, errors, and the Protocol."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from core.store.trading import OPEN_ORDER_STATUSES

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from core.store.trading import TradingFill, TradingOrder, TradingPosition

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]

_CID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_client_order_id(prefix: str = "wb") -> str:
    """A fresh idempotency key, e.g. ``wb-1f0c...`` (at most 128 characters, as Alpaca).

    >>> new_client_order_id().startswith("wb-")
    True
    """
    return f"{prefix}-{uuid.uuid4().hex}"


class BrokerError(Exception):
    """Any broker failure."""


class BrokerConfigError(BrokerError):
    """The broker cannot be built (missing keys, live trading not allowed, ...)."""


class OrderRejectedError(BrokerError):
    """The broker refused the order (4xx): not retried.

    Attributes
    ----------
    status_code
        HTTP status (403, 422, ...) or ``None`` for the simulator.
    message
        The broker's reason, e.g. ``"insufficient buying power"``.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class OrderNotFoundError(BrokerError):
    """No order with that id."""


class OrderIdConflictError(BrokerError):
    """A ``client_order_id`` is already used by another account or for another order."""


class BrokerUnavailableError(BrokerError):
    """The broker could not be reached after every retry."""


class CircuitOpenError(BrokerUnavailableError):
    """Calls are suspended after repeated failures; retry after the cool-down."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What to send to a broker.

    Parameters
    ----------
    symbol, side, qty
        What to trade; ``qty`` is positive.
    client_order_id
        The idempotency key: sending the same key twice yields one order.
    order_type
        ``"market"`` (default) or ``"limit"`` with ``limit_price``.
    time_in_force
        ``"day"`` (default) or ``"gtc"``.
    """

    symbol: str
    side: Side
    qty: float
    client_order_id: str
    order_type: OrderType = "market"
    limit_price: float | None = None
    time_in_force: Literal["day", "gtc"] = "day"

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell'; got {self.side!r}")
        if not (self.qty > 0 and math.isfinite(self.qty)):
            raise ValueError(f"qty must be positive; got {self.qty!r}")
        if not _CID.match(self.client_order_id):
            raise ValueError(
                "client_order_id must be 1-128 characters of letters, digits, '.', '_', ':' "
                f"or '-'; got {self.client_order_id!r}"
            )
        if self.order_type == "limit" and not (self.limit_price and self.limit_price > 0):
            raise ValueError("a limit order needs a positive limit_price")
        if self.order_type == "market" and self.limit_price is not None:
            raise ValueError("a market order takes no limit_price; use order_type='limit'")


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker sees it."""

    id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    filled_qty: float
    avg_fill_price: float | None
    status: str
    order_type: str
    limit_price: float | None
    created_at: datetime
    updated_at: datetime
    reason: str | None = None

    @property
    def is_open(self) -> bool:
        """May still fill."""
        return self.status in OPEN_ORDER_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "qty": self.qty,
            "filled_qty": self.filled_qty,
            "avg_fill_price": self.avg_fill_price,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    """A position: signed quantity (negative = short)."""

    symbol: str
    qty: float
    avg_price: float
    market_price: float | None = None

    @property
    def market_value(self) -> float | None:
        """``qty * market_price`` when the price is known."""
        return None if self.market_price is None else self.qty * self.market_price


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """Account balances."""

    broker: str
    account_id: str
    cash: float
    equity: float
    buying_power: float | None
    currency: str = "USD"


@runtime_checkable
class Broker(Protocol):
    """What the paper trader needs from any broker (simulator or Alpaca).

    ``submit`` is idempotent on ``client_order_id``: a second call with the same key
    returns the first order and never creates another.

    The local ledger (:mod:`core.broker.ledger`) either *is* the broker's book (the
    simulator writes its fills, positions and cash there) or *mirrors* a broker with a
    market of its own (Alpaca). :meth:`on_bar` feeds a bar's prices to a simulated
    market; :meth:`sync_orders`, :meth:`sync_account` and :meth:`apply_answer` copy a
    remote broker's state into the ledger. Each is a no-op where it has nothing to do,
    so callers never need to know which broker they hold.
    """

    name: str

    def account(self) -> BrokerAccount:
        """Balances."""
        ...

    def positions(self) -> list[BrokerPosition]:
        """Non-zero positions."""
        ...

    def open_orders(self) -> list[BrokerOrder]:
        """Orders that may still fill."""
        ...

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Send an order (idempotent on ``client_order_id``)."""
        ...

    def cancel(self, order_id: str) -> None:
        """Cancel one order by broker id."""
        ...

    def cancel_all(self) -> int:
        """Cancel every open order; returns how many were asked to cancel."""
        ...

    def get_order(self, order_id: str) -> BrokerOrder | None:
        """One order by broker id (``None`` when unknown)."""
        ...

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """One order by idempotency key (``None`` when unknown)."""
        ...

    def latest_price(self, symbol: str) -> float | None:
        """Latest known price (``None`` when unknown)."""
        ...

    def on_bar(self, ts: datetime, prices: Mapping[str, float]) -> list[BrokerOrder]:
        """A new bar's prices (e.g. every symbol's open, then its close).

        A simulator fills its open orders at them and marks its book; a broker with a
        market of its own ignores them. Returns the orders that filled.
        """
        ...

    def sync_orders(self, session: Session, account_id: int) -> list[TradingOrder]:
        """Bring the ledger's open orders of ``account_id`` up to this broker (fills,
        statuses); returns the orders that changed (none when the ledger is the book)."""
        ...

    def sync_account(self, session: Session, account_id: int) -> None:
        """Store this broker's cash and equity on the ledger's account (nothing to do
        when the ledger is the book)."""
        ...

    def apply_answer(
        self, session: Session, order: TradingOrder, seen: BrokerOrder
    ) -> TradingFill | None:
        """Apply the broker's answer ``seen`` (from :meth:`submit`) to the ledger's
        ``order``; returns the new fill, if any (none when the ledger is the book)."""
        ...


@runtime_checkable
class LedgerBroker(Protocol):
    """A broker whose book *is* the ledger, in the same database (the simulator).

    Such a broker can join the caller's transaction (:meth:`bind`): everything a bar
    does (fills, decisions, orders, the close) then commits at once, so a crash leaves
    the bar either whole or untouched, and orders need no commit of their own before
    they are sent.
    """

    def bind(self, session: Session) -> AbstractContextManager[None]:
        """Run every call in ``session`` until the block ends (the caller commits)."""
        ...

    def shares_ledger(self, engine: Engine, account_id: int) -> bool:
        """Whether ledger account ``account_id`` in ``engine``'s database is this
        broker's own book."""
        ...

    def position_rows(self) -> list[TradingPosition]:
        """Within :meth:`bind`: the ledger's non-flat position rows, by symbol."""
        ...
