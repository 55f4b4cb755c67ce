"""A simulated broker whose account, orders, fills and positions live in the database.

Execution convention (the same as the backtests): a market order fills in full at the
**next** price given to :meth:`SimBroker.on_price` after it was submitted; buys pay
``price * (1 + slippage)``, sells receive ``price * (1 - slippage)``, and each fill pays
``fees * quantity * fill price``. A limit order fills at that price only when it is at
or better than its limit. Each call commits one transaction, so an order, its fill, the
position and the cash always move together, and a new ``SimBroker`` on the same
database (a restart) continues where the last one stopped.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.broker.base import (
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    OrderNotFoundError,
    OrderRejectedError,
    OrderRequest,
)
from core.broker.ledger import apply_fill, mark_to_market, record_order, to_broker_order
from core.store.models import utcnow
from core.store.trading import (
    OPEN_ORDER_STATUSES,
    AccountRepository,
    FillRepository,
    OrderRepository,
    PositionRepository,
    TradingAccount,
    TradingFill,
    TradingOrder,
)

PriceSource = Callable[[str], float | None]


class SimBroker:
    """Database-backed simulated broker (no network).

    Parameters
    ----------
    db
        An engine, or a session factory bound to one (migrated to head).
    account
        Account name; created with ``initial_cash`` the first time.
    initial_cash
        Starting cash of a new account (ignored when the account exists).
    fees
        Fee as a fraction of each fill's value (default 5 bps).
    slippage
        Adverse price move per fill as a fraction (default 5 bps).
    price_source
        Optional ``symbol -> price`` used by :meth:`latest_price` for symbols that have
        not been priced through :meth:`on_price` yet.
    """

    name = "sim"

    def __init__(
        self,
        db: Engine | sessionmaker[Session],
        *,
        account: str = "default",
        initial_cash: float = 100_000.0,
        fees: float = 0.0005,
        slippage: float = 0.0005,
        price_source: PriceSource | None = None,
    ) -> None:
        for label, value in (("fees", fees), ("slippage", slippage)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{label} must be a fraction in [0, 1), e.g. 0.0005; got {value}")
        if not initial_cash > 0:
            raise ValueError(f"initial_cash must be positive; got {initial_cash}")
        self._factory = (
            sessionmaker(bind=db, expire_on_commit=False) if isinstance(db, Engine) else db
        )
        self.fees = fees
        self.slippage = slippage
        self._price_source = price_source
        self._prices: dict[str, float] = {}
        with self._tx() as s:
            row = AccountRepository(s).get_or_create("sim", account, initial_cash=initial_cash)
            self.account_id: int = row.id
            self.account_name = account

    def __repr__(self) -> str:
        return (
            f"SimBroker(account={self.account_name!r}, fees={self.fees}, slippage={self.slippage})"
        )

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._factory.begin() as session:
            yield session

    # ------------------------------------------------------------------ reads
    def account(self) -> BrokerAccount:
        """Cash, equity (positions at their last prices) and buying power (= cash)."""
        with self._tx() as s:
            acc = s.get_one(TradingAccount, self.account_id)
            return BrokerAccount(
                broker="sim",
                account_id=f"sim:{acc.name}",
                cash=acc.cash,
                equity=acc.equity,
                buying_power=acc.cash,
                currency=acc.currency,
            )

    def positions(self) -> list[BrokerPosition]:
        """Non-zero positions."""
        with self._tx() as s:
            return [
                BrokerPosition(p.symbol, p.qty, p.avg_price, p.last_price)
                for p in PositionRepository(s).list(self.account_id)
            ]

    def open_orders(self) -> list[BrokerOrder]:
        """Accepted orders that have not filled or been cancelled."""
        with self._tx() as s:
            return [
                to_broker_order(o)
                for o in OrderRepository(s).open(self.account_id)
                if o.broker_order_id is not None
            ]

    def get_order(self, order_id: str) -> BrokerOrder | None:
        """One order by its simulator id."""
        with self._tx() as s:
            row = OrderRepository(s).by_broker_id(order_id, account_id=self.account_id)
            return to_broker_order(row) if row is not None else None

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        """One accepted order by idempotency key."""
        with self._tx() as s:
            row = OrderRepository(s).by_client_id(client_order_id, account_id=self.account_id)
            if row is None or row.broker_order_id is None:
                return None
            return to_broker_order(row)

    def latest_price(self, symbol: str) -> float | None:
        """The last price seen by :meth:`on_price`, else ``price_source``, else the DB."""
        if symbol in self._prices:
            return self._prices[symbol]
        if self._price_source is not None:
            price = self._price_source(symbol)
            if price is not None:
                return price
        with self._tx() as s:
            position = PositionRepository(s).get(self.account_id, symbol)
            return position.last_price if position is not None else None

    # ------------------------------------------------------------------ writes
    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Accept an order; the same ``client_order_id`` always returns the same order.

        An order already recorded by :func:`core.broker.ledger.record_order` on this
        account (status ``pending_new``) is accepted in place.

        Raises
        ------
        OrderRejectedError
            The key belongs to another account or to a different order.
        """
        try:
            with self._tx() as s:
                return self._submit(s, order)
        except IntegrityError:  # a concurrent submit with the same key won the race
            existing = self.get_order_by_client_id(order.client_order_id)
            if existing is None:
                raise
            return existing

    def _submit(self, s: Session, order: OrderRequest) -> BrokerOrder:
        orders = OrderRepository(s)
        row = orders.by_client_id(order.client_order_id, account_id=self.account_id)
        if row is None and orders.client_id_owner(order.client_order_id) is not None:
            raise OrderRejectedError(
                f"client_order_id {order.client_order_id!r} belongs to another account"
            )
        if row is not None:
            if (row.symbol, row.side, row.qty) != (order.symbol, order.side, float(order.qty)):
                raise OrderRejectedError(
                    f"client_order_id {order.client_order_id!r} was used for a different "
                    f"order ({row.side} {row.qty:g} {row.symbol}); use a new key"
                )
            if row.broker_order_id is None:
                row.broker_order_id = f"sim-{uuid.uuid4()}"
                row.status = "new"
                row.updated_at = utcnow()
                s.flush()
            return to_broker_order(row)
        row = record_order(s, self.account_id, order, status="new")
        row.broker_order_id = f"sim-{uuid.uuid4()}"
        s.flush()
        return to_broker_order(row)

    def cancel(self, order_id: str) -> None:
        """Cancel an open order.

        Raises
        ------
        OrderNotFoundError
            No such order on this account.
        OrderRejectedError
            The order is no longer open (filled, cancelled, ...).
        """
        with self._tx() as s:
            row = OrderRepository(s).by_broker_id(order_id, account_id=self.account_id)
            if row is None:
                raise OrderNotFoundError(f"order {order_id} not found")
            if row.status not in OPEN_ORDER_STATUSES:
                raise OrderRejectedError(
                    f"order {order_id} is {row.status} and cannot be cancelled", status_code=422
                )
            _cancel(row)

    def cancel_all(self) -> int:
        """Cancel every open order; returns how many."""
        with self._tx() as s:
            rows = OrderRepository(s).open(self.account_id)
            for row in rows:
                _cancel(row)
            return len(rows)

    def on_price(self, symbol: str, ts: datetime, price: float) -> list[BrokerOrder]:
        """Feed the next price of ``symbol``: fill its open orders and mark to market.

        Parameters
        ----------
        symbol
            Ticker.
        ts
            Time of the price (the fills' timestamp).
        price
            The price (e.g. the next bar's open).

        Returns
        -------
        list of BrokerOrder
            The orders that filled at this price.
        """
        if not (price > 0 and math.isfinite(price)):
            raise ValueError(f"price must be positive and finite; got {price!r}")
        filled: list[TradingOrder] = []
        with self._tx() as s:
            account = s.get_one(TradingAccount, self.account_id)
            fills = FillRepository(s)
            for row in OrderRepository(s).open(self.account_id, symbol=symbol):
                if row.broker_order_id is None or row.status == "pending_cancel":
                    continue
                buy = row.side == "buy"
                fill_price = price * (1.0 + self.slippage) if buy else price * (1.0 - self.slippage)
                if row.limit_price is not None and (
                    (buy and fill_price > row.limit_price)
                    or (not buy and fill_price < row.limit_price)
                ):
                    continue
                qty = row.qty - row.filled_qty
                n = len(fills.for_order(row.id))
                apply_fill(
                    s,
                    row,
                    qty=qty,
                    price=fill_price,
                    fee=self.fees * qty * fill_price,
                    broker_fill_id=f"{row.broker_order_id}-f{n + 1}",
                    ts=ts,
                )
                filled.append(row)
            PositionRepository(s).set_last_price(self.account_id, symbol, price)
            mark_to_market(s, account)
            out = [to_broker_order(r) for r in filled]
        self._prices[symbol] = price
        return out

    def on_bar(self, ts: datetime, prices: Mapping[str, float]) -> list[BrokerOrder]:
        """Feed every symbol's price of a bar (:meth:`on_price`, in the given order)."""
        filled: list[BrokerOrder] = []
        for symbol, price in prices.items():
            filled += self.on_price(symbol, ts, price)
        return filled

    # ---------------------------------------------------------- ledger mirroring
    # The simulator's writes are the ledger: there is nothing to copy.
    def sync_orders(self, session: Session, account_id: int) -> list[TradingOrder]:
        """Nothing to do: fills are written to the ledger as they happen."""
        return []

    def sync_account(self, session: Session, account_id: int) -> None:
        """Nothing to do: the simulator's account row is the ledger's."""

    def apply_answer(
        self, session: Session, order: TradingOrder, seen: BrokerOrder
    ) -> TradingFill | None:
        """Nothing to do: ``seen`` describes the ledger's own row."""
        return None


def _cancel(row: TradingOrder) -> None:
    row.status = "canceled"
    row.updated_at = utcnow()
