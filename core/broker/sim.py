"""A simulated broker whose account, orders, fills and positions live in the database.

Execution convention (the same as the backtests): a market order fills in full at the
**next** price given to :meth:`SimBroker.on_price` after it was submitted; buys pay
``price * (1 + slippage)``, sells receive ``price * (1 - slippage)``, and each fill pays
``fees * quantity * fill price``. A limit order fills at that price only when it is at
or better than its limit. Each call commits one transaction, so an order, its fill, the
position and the cash always move together, and a new ``SimBroker`` on the same
database (a restart) continues where the last one stopped.

Inside :meth:`SimBroker.bind` every call runs in the caller's transaction instead (the
paper worker's bar: one commit for the whole bar), and the account's positions and
open orders are read once and kept for the binding.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    TradingPosition,
)

PriceSource = Callable[[str], float | None]


@dataclass
class _Binding:
    """The caller's transaction, and what the simulator read in it (loaded once)."""

    session: Session
    account: TradingAccount | None = None
    positions: dict[str, TradingPosition] | None = None
    open: list[TradingOrder] = field(default_factory=list)
    open_loaded: bool = False


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
        self._binding: _Binding | None = None
        with self._tx() as s:
            row = AccountRepository(s).get_or_create("sim", account, initial_cash=initial_cash)
            self.account_id: int = row.id
            self.account_name = account

    def __repr__(self) -> str:
        return (
            f"SimBroker(account={self.account_name!r}, fees={self.fees}, slippage={self.slippage})"
        )

    @contextmanager
    def bind(self, session: Session) -> Iterator[None]:
        """Run every call in ``session`` (the caller commits) until the block ends.

        Only the holder of the account (the session's worker, under its lease) may
        bind: the positions and open orders are read once and then kept in step with
        this simulator's own writes.
        """
        if self._binding is not None:
            raise RuntimeError("this SimBroker is already bound to a transaction")
        self._binding = _Binding(session)
        try:
            yield
        finally:
            self._binding = None

    def shares_ledger(self, engine: Engine, account_id: int) -> bool:
        """Whether ledger account ``account_id`` of ``engine`` is this simulator's own
        book, on that same engine (then a reconciliation compares rows with themselves)."""
        return account_id == self.account_id and self._factory.kw.get("bind") is engine

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        if self._binding is not None:
            yield self._binding.session
            return
        with self._factory.begin() as session:
            yield session

    def _account_row(self, s: Session) -> TradingAccount:
        """The account row (bound: held for the binding, so it is read once)."""
        bound = self._binding
        if bound is not None and bound.account is not None:
            return bound.account
        row = s.get_one(TradingAccount, self.account_id)
        if bound is not None:
            bound.account = row
        return row

    def position_rows(self) -> list[TradingPosition]:
        """The non-flat position rows of the bound transaction, by symbol (the ledger's
        :meth:`~core.store.trading.PositionRepository.list`, without reading again)."""
        if self._binding is None:
            raise RuntimeError("position_rows() needs a bound transaction (bind)")
        book = self._book(self._binding.session)
        return [p for _, p in sorted(book.items()) if p.qty != 0]

    def _book(self, s: Session) -> dict[str, TradingPosition]:
        """Every position row of the account (flat ones too), by symbol."""
        bound = self._binding
        if bound is not None and bound.positions is not None:
            return bound.positions
        rows = PositionRepository(s).list(self.account_id, include_flat=True)
        book = {p.symbol: p for p in rows}
        if bound is not None:
            bound.positions = book
        return book

    def _open(self, s: Session) -> list[TradingOrder]:
        """Open orders of the account, oldest first (bound: read once, then kept)."""
        bound = self._binding
        if bound is None:
            return OrderRepository(s).open(self.account_id)
        if not bound.open_loaded:
            bound.open = OrderRepository(s).open(self.account_id)
            bound.open_loaded = True
        bound.open = [o for o in bound.open if o.status in OPEN_ORDER_STATUSES]
        return bound.open

    def _opened(self, row: TradingOrder) -> None:
        bound = self._binding
        if bound is not None and bound.open_loaded and row not in bound.open:
            bound.open.append(row)

    # ------------------------------------------------------------------ reads
    def account(self) -> BrokerAccount:
        """Cash, equity (positions at their last prices) and buying power (= cash)."""
        with self._tx() as s:
            acc = self._account_row(s)
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
            book = self._book(s)
            return [
                BrokerPosition(p.symbol, p.qty, p.avg_price, p.last_price)
                for _, p in sorted(book.items())
                if p.qty != 0
            ]

    def open_orders(self) -> list[BrokerOrder]:
        """Accepted orders that have not filled or been cancelled."""
        with self._tx() as s:
            return [to_broker_order(o) for o in self._open(s) if o.broker_order_id is not None]

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
            position = self._book(s).get(symbol)
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
        if self._binding is not None:  # the caller's transaction: let it fail whole
            return self._submit(self._binding.session, order)
        try:
            with self._tx() as s:
                return self._submit(s, order)
        except IntegrityError:  # a concurrent submit with the same key won the race
            existing = self.get_order_by_client_id(order.client_order_id)
            if existing is None:
                raise
            return existing

    def _staged(self, s: Session, client_order_id: str) -> TradingOrder | None:
        """Bound: this account's order with that key recorded in the transaction and not
        flushed yet (found without a read; its key is checked before the commit)."""
        for obj in s.new:
            if (
                isinstance(obj, TradingOrder)
                and obj.client_order_id == client_order_id
                and obj.account_id == self.account_id
            ):
                return obj
        return None

    def _submit(self, s: Session, order: OrderRequest) -> BrokerOrder:
        orders = OrderRepository(s)
        row = self._staged(s, order.client_order_id) if self._binding is not None else None
        if row is None:
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
                if self._binding is None:  # bound: flushed when the caller commits
                    s.flush()
                self._opened(row)
            return to_broker_order(row)
        row = record_order(s, self.account_id, order, status="new")
        row.broker_order_id = f"sim-{uuid.uuid4()}"
        s.flush()
        self._opened(row)
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
            rows = list(self._open(s))
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
        return self.on_bar(ts, {symbol: price})

    def on_bar(self, ts: datetime, prices: Mapping[str, float]) -> list[BrokerOrder]:
        """Feed every symbol's price of a bar, in the given order, in one transaction:
        each symbol's open orders fill (oldest first) and its position is marked, then
        the account's equity is marked once."""
        for price in prices.values():
            if not (price > 0 and math.isfinite(price)):
                raise ValueError(f"price must be positive and finite; got {price!r}")
        filled: list[TradingOrder] = []
        with self._tx() as s:
            account = self._account_row(s)
            book = self._book(s)
            open_rows = self._open(s)
            for symbol, price in prices.items():
                for row in open_rows:
                    if row.symbol == symbol and self._fill(s, row, book, price, ts):
                        filled.append(row)
                position = book.get(symbol)
                if position is not None:
                    position.last_price = price
                    position.updated_at = utcnow()
            mark_to_market(s, account, positions=[book[k] for k in sorted(book)])
            out = [to_broker_order(r) for r in filled]
        self._prices.update(prices)
        return out

    def _fill(
        self,
        s: Session,
        row: TradingOrder,
        book: dict[str, TradingPosition],
        price: float,
        ts: datetime,
    ) -> bool:
        """Fill open order ``row`` in full at ``price`` (plus slippage) if it can."""
        if row.broker_order_id is None or row.status not in OPEN_ORDER_STATUSES:
            return False
        if row.status == "pending_cancel":
            return False
        buy = row.side == "buy"
        fill_price = price * (1.0 + self.slippage) if buy else price * (1.0 - self.slippage)
        if row.limit_price is not None and (
            (buy and fill_price > row.limit_price) or (not buy and fill_price < row.limit_price)
        ):
            return False
        qty = row.qty - row.filled_qty
        # fills are numbered per order; an order with nothing filled has none yet
        n = len(FillRepository(s).for_order(row.id)) if row.filled_qty > 0 else 0
        position = book.get(row.symbol)
        if position is None:
            position = TradingPosition(
                account_id=self.account_id,
                symbol=row.symbol,
                qty=0.0,
                avg_price=0.0,
                realized_pnl=0.0,
            )
            s.add(position)
            book[row.symbol] = position
        apply_fill(
            s,
            row,
            qty=qty,
            price=fill_price,
            fee=self.fees * qty * fill_price,
            broker_fill_id=f"{row.broker_order_id}-f{n + 1}",
            ts=ts,
            position=position,
            # an order and its fills move in one transaction: the first fill is new
            known_new=n == 0 and self._binding is not None,
        )
        return True

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
