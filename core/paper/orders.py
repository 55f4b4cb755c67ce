"""The worker's orders: recorded with their decision, sent idempotently, reconciled, and
cancelled or flattened by the kill switch.

A decision and its order row are committed in one transaction *before* the order is
sent, under a deterministic ``client_order_id`` (:mod:`core.paper.ids`); every order
still ``pending_new`` is (re)sent, and the broker's idempotency on that key turns a
repeat into a no-op. So a crash at any point neither loses nor duplicates an order.
With a broker whose book is the ledger (the simulator, :class:`~core.broker.LedgerBroker`)
the sending is a write in the same transaction, so the bar's decisions, orders and
their acceptance commit together.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.broker import (
    Broker,
    BrokerError,
    BrokerUnavailableError,
    OrderRejectedError,
    OrderRequest,
    reconcile,
    record_order,
    record_orders,
)
from core.broker.base import Side
from core.paper.context import SessionContext
from core.paper.group import BarWrites
from core.paper.ids import client_order_id
from core.paper.report import Summary
from core.paper.sizing import SizingCaps
from core.serialize import json_safe
from core.store.models import utcnow
from core.store.paper import DecisionRepository, WorkerControlRepository
from core.store.trading import (
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingOrder,
)

if TYPE_CHECKING:
    from core.pipeline import Decision


@dataclass(frozen=True)
class DecisionEntry:
    """One symbol's decision at a bar, with the caps it was sized within."""

    symbol: str
    decision: Decision
    caps: SizingCaps


def _probability(value: float | None) -> float | None:
    """A model's probability for the JSON payload (None for rule agents and warm-up NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _payload(ctx: SessionContext, t: int, entry: DecisionEntry, cid: str | None) -> dict[str, Any]:
    decision, caps = entry.decision, entry.caps
    sized_by = {
        "max_long": caps.long_limit,
        "max_short": caps.short_limit,
        "max_order_value": "max_order_notional",
    }.get(decision.sized_by)
    return {
        "session": ctx.name,
        "bar": t,
        "regime": decision.regime,
        "regime_probs": decision.regime_probs,
        "weights": decision.weights,
        "signal": decision.signal,
        "target_position": decision.target_position,
        "order_qty": decision.order_qty,
        "approved": decision.approved,
        "approved_qty": decision.approved_qty,
        "risk_reason": decision.risk_reason,
        "probability": _probability(decision.probability),
        "latency_us": decision.latency_us,
        "sized_by_limit": sized_by,
        "client_order_id": cid,
    }


def record_bar(
    ctx: SessionContext,
    s: Session,
    t: int,
    entries: list[DecisionEntry],
    summary: Summary,
    *,
    check: bool = True,
    writes: BarWrites | None = None,
) -> list[TradingOrder]:
    """Store bar t's decisions and their orders in ``s`` (one flush each); returns the
    new orders, still ``pending_new``.

    With ``check``, the symbols already decided at bar t (a bar half done before a
    crash) are skipped; ``check=False`` when the caller knows bar t has no decision
    (then it has no order either: a bar's decisions and orders commit together, so
    their keys are not read; ``writes`` checks them before the commit). With
    ``writes`` (the simulator's bars, :mod:`core.paper.group`) the decisions are
    appended there and written when the transaction commits.
    """
    if check and entries:
        done = DecisionRepository(s).decided_symbols(ctx.name, t)
        entries = [e for e in entries if e.symbol not in done]
    if not entries:
        return []
    ts = ctx.stamp(t)
    cids = [
        client_order_id(ctx.name, e.symbol, ts) if abs(e.decision.approved_qty) >= 1 else None
        for e in entries
    ]
    rows = [
        {
            "symbol": e.symbol,
            "payload": json_safe(_payload(ctx, t, e, cid)),
            "explanation": e.decision.explanation,
            "ts": ctx.bar_time(t),
            "session_name": ctx.name,
            "bar": t,
        }
        for e, cid in zip(entries, cids, strict=True)
    ]
    # with ``writes``: the decisions' places in the group, replaced by their ids later
    ids = DecisionRepository(s).add_many(rows) if writes is None else writes.add_decisions(rows)
    requests: list[tuple[OrderRequest, int | None]] = []
    for entry, cid, decision_id in zip(entries, cids, ids, strict=True):
        if cid is None:
            continue
        qty = math.floor(abs(entry.decision.approved_qty))
        side: Side = "buy" if entry.decision.approved_qty > 0 else "sell"
        request = OrderRequest(symbol=entry.symbol, side=side, qty=qty, client_order_id=cid)
        requests.append((request, decision_id))
    summary.orders += len(requests)
    if not requests:
        return []
    if writes is None:
        return record_orders(s, ctx.account_id, requests)
    staged = not check
    orders = record_orders(s, ctx.account_id, [(r, None) for r, _ in requests], check=not staged)
    for (_, place), order in zip(requests, orders, strict=True):
        writes.link(int(place or 0), order, staged=staged)
    return orders


def send_orders(
    ctx: SessionContext,
    s: Session,
    orders: list[TradingOrder],
    summary: Summary,
    commit: Callable[[], None],
) -> tuple[int, bool]:
    """Send recorded orders (idempotent by client_order_id) and apply the answers in
    ``s``; ``commit`` is called after each answer (a no-op when the broker shares the
    transaction). Returns the broker's rejections and whether any order is left unsent.
    """
    rejected, unsent = 0, False
    for row in orders:
        side: Side = "buy" if row.side == "buy" else "sell"
        request = OrderRequest(
            symbol=row.symbol, side=side, qty=row.qty, client_order_id=row.client_order_id
        )
        try:
            seen = ctx.broker.submit(request)
        except OrderRejectedError as exc:
            row.status, row.reason, row.updated_at = "rejected", str(exc), utcnow()
            summary.rejected += 1
            summary.broker_rejected += 1
            rejected += 1
            commit()
            continue
        except BrokerUnavailableError:
            raise
        except BrokerError as exc:
            row.reason, row.updated_at = str(exc), utcnow()
            unsent = True
            commit()
            continue
        if ctx.broker.apply_answer(s, row, seen) is not None:
            summary.fills += 1
        commit()
    return rejected, unsent


def unsent_orders(
    ctx: SessionContext, s: Session, new: list[TradingOrder] | None = None
) -> list[TradingOrder]:
    """Every recorded order the broker has not acknowledged yet, oldest first: the stored
    ones, then those of ``new`` not flushed yet (read without flushing them)."""
    with s.no_autoflush:
        stored = [o for o in OrderRepository(s).open(ctx.account_id) if o.status == "pending_new"]
    known = {id(o) for o in stored}
    return stored + [o for o in new or [] if id(o) not in known and o.status == "pending_new"]


def submit_pending(ctx: SessionContext, summary: Summary) -> tuple[int, int]:
    """Send every recorded-but-unacknowledged order (idempotent by client_order_id).

    Returns how many were pending and how many the broker rejected.
    """
    with ctx.sessions.begin() as s:
        pending = [
            (o.id, o.client_order_id, o.symbol, o.side, o.qty)
            for o in OrderRepository(s).open(ctx.account_id)
            if o.status == "pending_new"
        ]
    rejected = 0
    for order_id, cid, symbol, side, qty in pending:
        request = OrderRequest(
            symbol=symbol, side="buy" if side == "buy" else "sell", qty=qty, client_order_id=cid
        )
        try:
            seen = ctx.broker.submit(request)
        except OrderRejectedError as exc:
            with ctx.sessions.begin() as s:
                ctx.renew(s)
                row = s.get_one(TradingOrder, order_id)
                row.status, row.reason, row.updated_at = "rejected", str(exc), utcnow()
            summary.rejected += 1
            summary.broker_rejected += 1
            rejected += 1
            continue
        except BrokerUnavailableError:
            raise
        except BrokerError as exc:
            with ctx.sessions.begin() as s:
                row = s.get_one(TradingOrder, order_id)
                row.reason, row.updated_at = str(exc), utcnow()
            continue
        with ctx.sessions.begin() as s:
            if ctx.broker.apply_answer(s, s.get_one(TradingOrder, order_id), seen) is not None:
                summary.fills += 1
    return len(pending), rejected


def reconcile_ledger(ctx: SessionContext, s: Session | None = None) -> int:
    """Compare the ledger with the broker (in ``s``, else a transaction of its own); a
    report is stored when they differ."""
    if s is None:
        with ctx.sessions.begin() as own:
            return reconcile_ledger(ctx, own)
    result = reconcile(s, ctx.broker, account_id=ctx.account_id, record=False)
    if result.differences:
        ReconciliationRepository(s).add(
            broker=result.broker,
            differences=result.to_dicts(),
            account_id=ctx.account_id,
            ts=result.ts,
        )
    return len(result.differences)


@dataclass(frozen=True)
class KillOutcome:
    """What a kill did: orders cancelled, flatten orders sent and filled."""

    cancelled: int
    flatten_orders: int
    flatten_fills: int
    positions_left: dict[str, float]


def carry_out_kill(
    engine: Engine,
    *,
    session_name: str,
    account_id: int,
    broker: Broker,
    prices: Mapping[str, float],
    ts: pd.Timestamp,
    flatten: bool,
    reason: str,
    renew: Callable[[Session], None] | None = None,
    stop: bool = True,
) -> KillOutcome:
    """Cancel every open order and, if asked, flatten every position now.

    Each flatten order is recorded in the ledger first (crash-safe keys tagged
    ``flatten``), sent, and mirrored from the broker's answer; a simulator then fills
    it at ``prices`` (the last close, through :meth:`~core.broker.Broker.on_bar`). With
    ``stop`` the control row is then set to ``stopped`` (the kill is done).
    """
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    cancelled = broker.cancel_all()
    with factory.begin() as s:
        if renew is not None:
            renew(s)
        for order in OrderRepository(s).open(account_id):
            order.status, order.reason = "canceled", f"kill switch: {reason}"
            order.updated_at = utcnow()
    sent = fills = 0
    if flatten:
        with factory.begin() as s:
            held = [(p.symbol, p.qty) for p in PositionRepository(s).list(account_id)]
        for symbol, qty in held:
            if abs(qty) < 1e-9:
                continue
            request = _flatten_request(factory, account_id, session_name, symbol, qty, ts)
            with factory.begin() as s:
                if renew is not None:
                    renew(s)
                record_order(s, account_id, request)
            seen = broker.submit(request)
            with factory.begin() as s:
                stored = OrderRepository(s).by_client_id(
                    request.client_order_id, account_id=account_id
                )
                if stored is not None and broker.apply_answer(s, stored, seen) is not None:
                    fills += 1
            fills += len(broker.on_bar(ts.to_pydatetime(), {symbol: float(prices[symbol])}))
            sent += 1
    with factory.begin() as s:
        left = {p.symbol: p.qty for p in PositionRepository(s).list(account_id)}
        if renew is not None:
            renew(s)
        if stop:
            WorkerControlRepository(s).set(
                "stopped", updated_by="worker", reason=kill_summary(reason, flatten, bool(left))
            )
    return KillOutcome(cancelled, sent, fills, left)


def kill_summary(reason: str, flatten: bool, left: bool) -> str:
    """The control row's reason after a kill (``left``: positions remain open).

    >>> kill_summary("test", True, False)
    'killed (test); positions flattened'
    """
    if not flatten:
        done = "positions kept"
    else:
        done = "positions flattened" if not left else "flatten orders sent"
    return f"killed ({reason or 'by user'}); {done}"


def _flatten_request(
    factory: sessionmaker[Session],
    account_id: int,
    session_name: str,
    symbol: str,
    qty: float,
    ts: pd.Timestamp,
) -> OrderRequest:
    """The flatten order, with the first key of this bar not used by a closed order."""
    side: Side = "sell" if qty > 0 else "buy"
    with factory.begin() as s:
        orders = OrderRepository(s)
        for n in range(1, 1000):
            tag = "flatten" if n == 1 else f"flatten{n}"
            cid = client_order_id(session_name, symbol, ts, tag=tag)
            existing = orders.by_client_id(cid, account_id=account_id)
            if existing is None and orders.client_id_owner(cid) is None:
                break
    return OrderRequest(symbol=symbol, side=side, qty=abs(qty), client_order_id=cid)


__all__ = [
    "DecisionEntry",
    "KillOutcome",
    "carry_out_kill",
    "kill_summary",
    "reconcile_ledger",
    "record_bar",
    "send_orders",
    "submit_pending",
    "unsent_orders",
]
