"""Broker state tables (accounts, orders, fills, positions, reconciliation reports) and
their repositories.

Every model shares ``core.store.models.Base`` (one metadata, one Alembic history:
migration ``0003``). Repositories take a caller-owned Session and never commit: services
own transactions. Nothing here ever stores credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from core.store.base import Base, utcnow

OPEN_ORDER_STATUSES = (
    "pending_new",
    "new",
    "accepted",
    "partially_filled",
    "pending_cancel",
    "pending_replace",
    "held",
)
"""Statuses of orders that may still fill (Alpaca's names, which the simulator reuses).

The one definition: :meth:`OrderRepository.open` and ``core.broker.BrokerOrder.is_open``
both use it.
"""


def as_utc(ts: datetime) -> datetime:
    """A timezone-aware UTC time; naive values (SQLite returns them) are taken as UTC.

    >>> as_utc(datetime(2025, 1, 2, 3, 4)).isoformat()
    '2025-01-02T03:04:00+00:00'
    """
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class TradingAccount(Base):
    """A broker account as last seen: the simulator's own, or a mirror of Alpaca's."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("broker", "name", name="uq_accounts_broker_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broker: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    initial_cash: Mapped[float] = mapped_column(Float, default=0.0)
    cash: Mapped[float] = mapped_column(Float, default=0.0)
    equity: Mapped[float] = mapped_column(Float, default=0.0)
    buying_power: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TradingOrder(Base):
    """One order; ``client_order_id`` is the idempotency key sent to the broker."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    client_order_id: Mapped[str] = mapped_column(String(128), unique=True)
    broker_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(16), default="market")
    qty: Mapped[float] = mapped_column(Float)
    limit_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    filled_qty: Mapped[float] = mapped_column(Float, default=0.0)
    avg_fill_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decision_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TradingFill(Base):
    """One execution of an order; ``broker_fill_id`` makes re-applying a fill a no-op."""

    __tablename__ = "fills"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    broker_fill_id: Mapped[str] = mapped_column(String(128), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    qty: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float, default=0.0)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    order: Mapped[TradingOrder] = relationship(lazy="select")
    """The filled order (a fill staged with an order not flushed yet is inserted after it)."""


class TradingPosition(Base):
    """Signed quantity of one symbol in one account."""

    __tablename__ = "positions"
    __table_args__ = (UniqueConstraint("account_id", "symbol", name="uq_positions_account_symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(32))
    qty: Mapped[float] = mapped_column(Float, default=0.0)
    avg_price: Mapped[float] = mapped_column(Float, default=0.0)
    last_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    realized_pnl: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReconciliationRecord(Base):
    """Differences found between the local ledger and the broker at one moment."""

    __tablename__ = "reconciliation_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    broker: Mapped[str] = mapped_column(String(16))
    n_differences: Mapped[int] = mapped_column(Integer, default=0)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


# ------------------------------------------------------------------ repositories


class AccountRepository:
    """Broker accounts."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, account_id: int) -> TradingAccount | None:
        """One account by id."""
        return self._s.get(TradingAccount, account_id)

    def find(self, broker: str, name: str) -> TradingAccount | None:
        """One account by broker and name."""
        return self._s.scalar(
            select(TradingAccount).where(
                TradingAccount.broker == broker, TradingAccount.name == name
            )
        )

    def get_or_create(
        self, broker: str, name: str, *, initial_cash: float = 0.0, currency: str = "USD"
    ) -> TradingAccount:
        """The account, created with ``initial_cash`` as cash and equity when new."""
        account = self.find(broker, name)
        if account is None:
            account = TradingAccount(
                broker=broker,
                name=name,
                currency=currency,
                initial_cash=initial_cash,
                cash=initial_cash,
                equity=initial_cash,
            )
            self._s.add(account)
            self._s.flush()
        return account

    def update_snapshot(
        self,
        account_id: int,
        *,
        cash: float,
        equity: float,
        buying_power: float | None = None,
    ) -> TradingAccount:
        """Record the broker's latest cash and equity."""
        account = self._s.get_one(TradingAccount, account_id)
        account.cash = cash
        account.equity = equity
        account.buying_power = buying_power
        account.updated_at = utcnow()
        self._s.flush()
        return account


class OrderRepository:
    """Orders, keyed by ``client_order_id``."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, order: TradingOrder) -> TradingOrder:
        """Stage a new order (flushed, so a duplicate ``client_order_id`` fails now)."""
        self._s.add(order)
        self._s.flush()
        return order

    def get(self, order_id: int) -> TradingOrder | None:
        """One order by local id."""
        return self._s.get(TradingOrder, order_id)

    def by_client_id(self, client_order_id: str, *, account_id: int) -> TradingOrder | None:
        """One order of ``account_id`` by its idempotency key (never another account's)."""
        return self._s.scalar(
            select(TradingOrder).where(
                TradingOrder.client_order_id == client_order_id,
                TradingOrder.account_id == account_id,
            )
        )

    def by_client_ids(self, client_order_ids: Iterable[str]) -> list[TradingOrder]:
        """The orders holding any of these keys, in any account (one statement)."""
        keys = list(client_order_ids)
        if not keys:
            return []
        return list(
            self._s.scalars(select(TradingOrder).where(TradingOrder.client_order_id.in_(keys)))
        )

    def client_id_owner(self, client_order_id: str) -> int | None:
        """The account that holds ``client_order_id`` (keys are unique database-wide)."""
        return self._s.scalar(
            select(TradingOrder.account_id).where(TradingOrder.client_order_id == client_order_id)
        )

    def by_broker_id(self, broker_order_id: str, *, account_id: int) -> TradingOrder | None:
        """One order of ``account_id`` by the broker's id."""
        return self._s.scalar(
            select(TradingOrder).where(
                TradingOrder.broker_order_id == broker_order_id,
                TradingOrder.account_id == account_id,
            )
        )

    def open(self, account_id: int, *, symbol: str | None = None) -> list[TradingOrder]:
        """Orders that may still fill, oldest first."""
        query = (
            select(TradingOrder)
            .where(
                TradingOrder.account_id == account_id,
                TradingOrder.status.in_(OPEN_ORDER_STATUSES),
            )
            .order_by(TradingOrder.id)
        )
        if symbol is not None:
            query = query.where(TradingOrder.symbol == symbol)
        return list(self._s.scalars(query))

    def count(self, account_id: int | None = None) -> int:
        """Number of orders (of one account)."""
        query = select(func.count(TradingOrder.id))
        if account_id is not None:
            query = query.where(TradingOrder.account_id == account_id)
        return int(self._s.scalar(query) or 0)

    def submitted_since(self, account_id: int, since: datetime) -> list[datetime]:
        """Creation times (UTC) of orders since ``since`` (the order-rate limit)."""
        since = as_utc(since)
        rows = self._s.scalars(
            select(TradingOrder.created_at).where(
                TradingOrder.account_id == account_id, TradingOrder.created_at >= since
            )
        )
        return [as_utc(t) for t in rows]

    def list(self, account_id: int, *, limit: int = 200) -> list[TradingOrder]:
        """Newest first."""
        return list(
            self._s.scalars(
                select(TradingOrder)
                .where(TradingOrder.account_id == account_id)
                .order_by(TradingOrder.id.desc())
                .limit(limit)
            )
        )


class FillRepository:
    """Executions."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, fill: TradingFill) -> TradingFill:
        """Stage a fill (flushed)."""
        self._s.add(fill)
        self._s.flush()
        return fill

    def exists(self, broker_fill_id: str) -> bool:
        """Whether a fill with this broker id is recorded."""
        return (
            self._s.scalar(
                select(TradingFill.id).where(TradingFill.broker_fill_id == broker_fill_id)
            )
            is not None
        )

    def for_order(self, order_id: int) -> list[TradingFill]:
        """Fills of one order, oldest first."""
        return list(
            self._s.scalars(
                select(TradingFill).where(TradingFill.order_id == order_id).order_by(TradingFill.id)
            )
        )

    def list(self, account_id: int, *, limit: int = 500) -> list[TradingFill]:
        """Fills of an account, newest first."""
        return list(
            self._s.scalars(
                select(TradingFill)
                .join(TradingOrder, TradingOrder.id == TradingFill.order_id)
                .where(TradingOrder.account_id == account_id)
                .order_by(TradingFill.id.desc())
                .limit(limit)
            )
        )


class PositionRepository:
    """Positions per account and symbol."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, account_id: int, symbol: str) -> TradingPosition | None:
        """One position (zero positions are kept until pruned)."""
        return self._s.scalar(
            select(TradingPosition).where(
                TradingPosition.account_id == account_id, TradingPosition.symbol == symbol
            )
        )

    def get_or_create(self, account_id: int, symbol: str) -> TradingPosition:
        """The position row, created flat when missing."""
        position = self.get(account_id, symbol)
        if position is None:
            position = TradingPosition(
                account_id=account_id, symbol=symbol, qty=0.0, avg_price=0.0, realized_pnl=0.0
            )
            self._s.add(position)
            self._s.flush()
        return position

    def list(self, account_id: int, *, include_flat: bool = False) -> list[TradingPosition]:
        """Positions by symbol."""
        query = (
            select(TradingPosition)
            .where(TradingPosition.account_id == account_id)
            .order_by(TradingPosition.symbol)
        )
        if not include_flat:
            query = query.where(TradingPosition.qty != 0)
        return list(self._s.scalars(query))

    def set_last_price(self, account_id: int, symbol: str, price: float) -> None:
        """Record the latest price of a held symbol (no-op when not held)."""
        position = self.get(account_id, symbol)
        if position is not None:
            position.last_price = price
            position.updated_at = utcnow()


class ReconciliationRepository:
    """Stored reconciliation reports."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        broker: str,
        differences: Iterable[dict[str, Any]],
        account_id: int | None = None,
        ts: datetime | None = None,
    ) -> ReconciliationRecord:
        """Store one report."""
        diffs = list(differences)
        row = ReconciliationRecord(
            ts=ts or utcnow(),
            account_id=account_id,
            broker=broker,
            n_differences=len(diffs),
            differences=diffs,
        )
        self._s.add(row)
        self._s.flush()
        return row

    def recent(self, limit: int = 50) -> list[ReconciliationRecord]:
        """Newest first."""
        return list(
            self._s.scalars(
                select(ReconciliationRecord).order_by(ReconciliationRecord.id.desc()).limit(limit)
            )
        )
