"""The local ledger: orders, fills and positions in the database, kept in step with a broker.

The simulator keeps its whole state here. For Alpaca the ledger is the workbench's own
record: ``record_order`` before submitting (crash-safe idempotency key), then
``apply_broker_order`` with every broker view of that order; each new filled quantity
becomes a fill and moves the position. Functions take a caller-owned Session.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy.orm import Session

from core.broker.base import Broker, BrokerOrder, OrderIdConflictError, OrderRequest
from core.store.models import utcnow
from core.store.trading import (
    AccountRepository,
    FillRepository,
    OrderRepository,
    PositionRepository,
    TradingAccount,
    TradingFill,
    TradingOrder,
    TradingPosition,
    as_utc,
)

_EPS = 1e-9


def to_broker_order(row: TradingOrder) -> BrokerOrder:
    """The broker-neutral view of a stored order."""
    return BrokerOrder(
        id=row.broker_order_id or "",
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side="buy" if row.side == "buy" else "sell",
        qty=row.qty,
        filled_qty=row.filled_qty,
        avg_fill_price=row.avg_fill_price,
        status=row.status,
        order_type=row.order_type,
        limit_price=row.limit_price,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        reason=row.reason,
    )


def record_order(
    session: Session,
    account_id: int,
    request: OrderRequest,
    *,
    decision_id: int | None = None,
    status: str = "pending_new",
) -> TradingOrder:
    """Store an order before it is sent (or return the one with the same key).

    Parameters
    ----------
    session
        Caller-owned session.
    account_id
        Local account.
    request
        The order; its ``client_order_id`` is unique across the database.

    Raises
    ------
    OrderIdConflictError
        The key is held by another account, or by a different order of this one.
    decision_id
        The decision that produced it (``decisions.id``).
    status
        Initial status; ``"pending_new"`` means "not yet acknowledged by the broker".
    """
    orders = OrderRepository(session)
    existing = orders.by_client_id(request.client_order_id, account_id=account_id)
    if existing is not None:
        _check_same_order(existing, request)
        return existing
    owner = orders.client_id_owner(request.client_order_id)
    if owner is not None:
        raise OrderIdConflictError(
            f"client_order_id {request.client_order_id!r} belongs to account {owner}, not "
            f"{account_id}; order keys must be unique across accounts"
        )
    return orders.add(_new_order(account_id, request, decision_id, status, utcnow()))


def _check_same_order(row: TradingOrder, request: OrderRequest) -> None:
    """A key already recorded must name the same order (symbol, side, quantity)."""
    if (row.symbol, row.side, row.qty) != (request.symbol, request.side, float(request.qty)):
        raise OrderIdConflictError(
            f"client_order_id {request.client_order_id!r} was recorded for a different "
            f"order ({row.side} {row.qty:g} {row.symbol}); use a new key"
        )


def _new_order(
    account_id: int,
    request: OrderRequest,
    decision_id: int | None,
    status: str,
    now: datetime,
) -> TradingOrder:
    return TradingOrder(
        account_id=account_id,
        client_order_id=request.client_order_id,
        broker_order_id=None,
        symbol=request.symbol,
        side=request.side,
        order_type=request.order_type,
        qty=float(request.qty),
        limit_price=request.limit_price,
        filled_qty=0.0,
        avg_fill_price=None,
        status=status,
        decision_id=decision_id,
        created_at=now,
        updated_at=now,
    )


def record_orders(
    session: Session,
    account_id: int,
    requests: Sequence[tuple[OrderRequest, int | None]],
    *,
    check: bool = True,
) -> list[TradingOrder]:
    """:func:`record_order` for several ``(request, decision_id)`` at once: one read of
    the keys and one flush, with the same checks (OrderIdConflictError).

    ``check=False`` skips the read of the keys: the caller knows them to be new to this
    account and checks them against the others' before its transaction commits
    (:func:`check_new_keys`).
    """
    keys = (r.client_order_id for r, _ in requests)
    existing = (
        {o.client_order_id: o for o in OrderRepository(session).by_client_ids(keys)}
        if (check)
        else {}
    )
    rows = []
    now = utcnow()
    for request, decision_id in requests:
        row = existing.get(request.client_order_id)
        if row is not None and row.account_id != account_id:
            raise OrderIdConflictError(
                f"client_order_id {request.client_order_id!r} belongs to account "
                f"{row.account_id}, not {account_id}; order keys must be unique across accounts"
            )
        if row is not None:
            _check_same_order(row, request)
            rows.append(row)
            continue
        row = _new_order(account_id, request, decision_id, "pending_new", now)
        session.add(row)
        existing[request.client_order_id] = row
        rows.append(row)
    return rows  # flushed with the session's next statement


def check_new_keys(session: Session, rows: Sequence[TradingOrder]) -> None:
    """Raise :class:`OrderIdConflictError` when the key of any of ``rows`` (orders staged
    by :func:`record_orders` with ``check=False``, maybe not flushed yet) is already held
    by another stored order (one read, without flushing ``rows``)."""
    if not rows:
        return
    staged = {id(r) for r in rows}
    with session.no_autoflush:
        held = OrderRepository(session).by_client_ids(r.client_order_id for r in rows)
    for row in held:
        if id(row) not in staged:
            raise OrderIdConflictError(
                f"client_order_id {row.client_order_id!r} is already held by account "
                f"{row.account_id} ({row.side} {row.qty:g} {row.symbol}); order keys must be "
                "unique"
            )


def update_position(position: TradingPosition, signed_qty: float, price: float) -> float:
    """Move a position by ``signed_qty`` at ``price``; returns the realized P&L.

    Adding to a position averages its price; reducing keeps it and realizes P&L; a flip
    realizes the closed part and opens the rest at ``price``.

    >>> p = TradingPosition(symbol="X", qty=10.0, avg_price=100.0, realized_pnl=0.0)
    >>> update_position(p, -4.0, 110.0), p.qty, p.avg_price
    (40.0, 6.0, 100.0)
    >>> update_position(p, -10.0, 90.0), p.qty, p.avg_price
    (-60.0, -4.0, 90.0)
    """
    q0, a0 = position.qty, position.avg_price
    q1 = q0 + signed_qty
    realized = 0.0
    if abs(q0) < _EPS or math.copysign(1.0, q0) == math.copysign(1.0, signed_qty):
        position.avg_price = (abs(q0) * a0 + abs(signed_qty) * price) / abs(q1)
    else:
        closed = min(abs(signed_qty), abs(q0))
        realized = closed * (price - a0) * math.copysign(1.0, q0)
        if abs(q1) < _EPS:
            q1, position.avg_price = 0.0, 0.0
        elif abs(signed_qty) > abs(q0):
            position.avg_price = price
    position.qty = q1
    position.realized_pnl = (position.realized_pnl or 0.0) + realized
    position.updated_at = utcnow()
    return realized


def apply_fill(
    session: Session,
    order: TradingOrder,
    *,
    qty: float,
    price: float,
    fee: float,
    broker_fill_id: str,
    ts: datetime | None = None,
    adjust_cash: bool = True,
    position: TradingPosition | None = None,
    known_new: bool = False,
) -> TradingFill | None:
    """Record one execution and move order, position and (optionally) cash together.

    Returns ``None`` (and changes nothing) when ``broker_fill_id`` is already recorded.
    ``position`` is the order's position row when the caller holds it already (else it
    is looked up, and created flat when missing). ``known_new``: the caller knows the id
    to be new (the simulator's first fill of an order), so it is not looked up; the
    unique ``broker_fill_id`` still guards it when the fill is flushed. The fill refers
    to ``order`` itself, so an order not flushed yet gets its id first.
    """
    if not known_new and FillRepository(session).exists(broker_fill_id):
        return None
    ts = ts or utcnow()
    fill = TradingFill(
        order=order,
        broker_fill_id=broker_fill_id,
        symbol=order.symbol,
        side=order.side,
        qty=qty,
        price=price,
        fee=fee,
        ts=ts,
    )
    session.add(fill)  # flushed with the order, position and cash it moves
    filled = order.filled_qty + qty
    order.avg_fill_price = ((order.avg_fill_price or 0.0) * order.filled_qty + price * qty) / filled
    order.filled_qty = filled
    order.status = "filled" if filled >= order.qty - _EPS else "partially_filled"
    order.updated_at = ts
    signed = qty if order.side == "buy" else -qty
    if position is None:
        position = PositionRepository(session).get_or_create(order.account_id, order.symbol)
    update_position(position, signed, price)
    if position.last_price is None:
        position.last_price = price
    if adjust_cash:
        account = session.get_one(TradingAccount, order.account_id)
        account.cash -= signed * price + fee
        account.updated_at = ts
    return fill


def apply_broker_order(
    session: Session, order: TradingOrder, seen: BrokerOrder, *, adjust_cash: bool = False
) -> TradingFill | None:
    """Bring a stored order up to the broker's view of it.

    Newly filled quantity becomes one fill at the implied incremental price
    ``(avg1 * filled1 - avg0 * filled0) / (filled1 - filled0)``, with the id
    ``"<broker id>:<cumulative filled>"`` so replaying the same view is a no-op.
    """
    order.broker_order_id = seen.id or order.broker_order_id
    fill = None
    increment = seen.filled_qty - order.filled_qty
    if increment > _EPS and seen.avg_fill_price is not None:
        value = seen.avg_fill_price * seen.filled_qty - (order.avg_fill_price or 0.0) * (
            order.filled_qty
        )
        fill = apply_fill(
            session,
            order,
            qty=increment,
            price=value / increment,
            fee=0.0,
            broker_fill_id=f"{seen.id}:{seen.filled_qty:.6f}",
            ts=seen.updated_at,
            adjust_cash=adjust_cash,
        )
    if order.status != seen.status or order.reason != seen.reason:
        order.status = seen.status
        order.reason = seen.reason or order.reason
        order.updated_at = utcnow()
    session.flush()
    return fill


def sync_orders(session: Session, account_id: int, broker: Broker) -> list[TradingOrder]:
    """Refresh every locally open order from the broker; returns the orders that changed."""
    changed = []
    for order in OrderRepository(session).open(account_id):
        seen = broker.get_order_by_client_id(order.client_order_id)
        if seen is None:
            continue
        before = (order.status, order.filled_qty)
        apply_broker_order(session, order, seen)
        if (order.status, order.filled_qty) != before:
            changed.append(order)
    return changed


def sync_account(session: Session, account_id: int, broker: Broker) -> TradingAccount:
    """Store the broker's cash, equity and buying power on the local account."""
    snapshot = broker.account()
    return AccountRepository(session).update_snapshot(
        account_id, cash=snapshot.cash, equity=snapshot.equity, buying_power=snapshot.buying_power
    )


def mark_to_market(
    session: Session,
    account: TradingAccount,
    *,
    positions: Sequence[TradingPosition] | None = None,
) -> float:
    """Recompute ``account.equity`` as cash plus positions at their last prices.

    ``positions``: the account's position rows in symbol order when the caller holds
    them already (flat ones are skipped); else they are read.
    """
    value = 0.0
    rows = PositionRepository(session).list(account.id) if positions is None else positions
    for position in rows:
        if position.qty == 0:
            continue
        price = position.last_price if position.last_price is not None else position.avg_price
        value += position.qty * price
    account.equity = account.cash + value
    account.updated_at = utcnow()
    return account.equity


class MirroredBroker:
    """The ledger half of the :class:`~core.broker.base.Broker` protocol for a broker
    with a market of its own (Alpaca): bars' prices are ignored, and its orders, fills
    and balances are copied into the ledger with the functions above."""

    def on_bar(self, ts: datetime, prices: Mapping[str, float]) -> list[BrokerOrder]:
        """Nothing to fill: the broker's own market fills its orders."""
        return []

    def sync_orders(self, session: Session, account_id: int) -> list[TradingOrder]:
        """:func:`sync_orders` from this broker."""
        return sync_orders(session, account_id, cast(Broker, self))

    def sync_account(self, session: Session, account_id: int) -> None:
        """:func:`sync_account` from this broker."""
        sync_account(session, account_id, cast(Broker, self))

    def apply_answer(
        self, session: Session, order: TradingOrder, seen: BrokerOrder
    ) -> TradingFill | None:
        """:func:`apply_broker_order`: the broker's answer onto the ledger's order."""
        return apply_broker_order(session, order, seen)
