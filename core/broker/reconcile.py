"""Reconciliation: compare the local ledger with what the broker reports.

Run it at start-up and every cycle. Differences are reported (and stored), never fixed
silently: :func:`core.broker.ledger.sync_orders` applies the broker's order updates,
and whatever still differs afterwards needs a human (or the worker's policy).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.broker.base import Broker, BrokerOrder
from core.store.models import utcnow
from core.store.trading import (
    OrderRepository,
    PositionRepository,
    ReconciliationRepository,
    TradingOrder,
)

QTY_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Difference:
    """One mismatch.

    Attributes
    ----------
    kind
        ``"position"`` or ``"order"``.
    key
        The symbol (positions) or ``client_order_id`` (orders).
    local, broker
        Each side's view (``None`` when that side has nothing).
    """

    kind: Literal["position", "order"]
    key: str
    local: Any
    broker: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        label = "symbol" if self.kind == "position" else "client_order_id"
        return {"kind": self.kind, label: self.key, "local": self.local, "broker": self.broker}


@dataclass(frozen=True)
class ReconciliationReport:
    """The outcome of one reconciliation."""

    ts: datetime
    broker: str
    account_id: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing differs."""
        return not self.differences

    def to_dicts(self) -> list[dict[str, Any]]:
        """The differences as JSON-ready dicts."""
        return [d.to_dict() for d in self.differences]

    def summary(self) -> str:
        """One line for logs and alerts."""
        if self.ok:
            return f"{self.broker}: ledger and broker agree"
        kinds = [d.kind for d in self.differences]
        return (
            f"{self.broker}: {kinds.count('position')} position and {kinds.count('order')} "
            f"order difference(s): " + "; ".join(_short(d) for d in self.differences[:5])
        )


def _short(d: Difference) -> str:
    return f"{d.kind} {d.key} local={d.local} broker={d.broker}"


def _order_view(status: str, filled_qty: float, qty: float) -> dict[str, Any]:
    return {"status": status, "filled_qty": filled_qty, "qty": qty}


def _local_view(o: TradingOrder) -> dict[str, Any]:
    return _order_view(o.status, o.filled_qty, o.qty)


def _broker_view(o: BrokerOrder) -> dict[str, Any]:
    return _order_view(o.status, o.filled_qty, o.qty)


def reconcile(
    session: Session,
    broker: Broker,
    *,
    account_id: int,
    record: bool = True,
) -> ReconciliationReport:
    """Compare local positions and open orders of ``account_id`` with ``broker``.

    Positions differ when quantities differ by more than ``1e-6``. Orders differ when a
    locally open order is not open at the broker with the same status and filled
    quantity (looked up by ``client_order_id``), or when the broker has an open order
    the ledger does not know.

    Parameters
    ----------
    session
        Caller-owned session (the report row is added to it when ``record``).
    broker
        Any :class:`~core.broker.base.Broker`.
    account_id
        Local account mirroring that broker.
    record
        Store the report in ``reconciliation_reports``.
    """
    diffs: list[Difference] = []
    local_pos = {p.symbol: p.qty for p in PositionRepository(session).list(account_id)}
    broker_pos = {p.symbol: p.qty for p in broker.positions() if p.qty != 0}
    for symbol in sorted(set(local_pos) | set(broker_pos)):
        mine, theirs = local_pos.get(symbol, 0.0), broker_pos.get(symbol, 0.0)
        if abs(mine - theirs) > QTY_TOLERANCE:
            diffs.append(Difference("position", symbol, mine, theirs))

    orders = OrderRepository(session)
    broker_open = {o.client_order_id: o for o in broker.open_orders()}
    for local in orders.open(account_id):
        seen = broker_open.pop(local.client_order_id, None)
        if seen is None:
            seen = broker.get_order_by_client_id(local.client_order_id)
        if seen is None:
            diffs.append(Difference("order", local.client_order_id, _local_view(local), None))
        elif seen.status != local.status or abs(seen.filled_qty - local.filled_qty) > QTY_TOLERANCE:
            diffs.append(
                Difference("order", local.client_order_id, _local_view(local), _broker_view(seen))
            )
    for cid, seen in sorted(broker_open.items()):
        known = orders.by_client_id(cid, account_id=account_id)
        if known is None:
            diffs.append(Difference("order", cid, None, _broker_view(seen)))
        else:  # closed locally, open at the broker
            diffs.append(Difference("order", cid, _local_view(known), _broker_view(seen)))

    report = ReconciliationReport(utcnow(), broker.name, account_id, diffs)
    if record:
        ReconciliationRepository(session).add(
            broker=broker.name, differences=report.to_dicts(), account_id=account_id, ts=report.ts
        )
    return report
