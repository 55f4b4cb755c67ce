"""Brokers behind one Protocol: the database-backed simulator and Alpaca (paper).

>>> from core.broker import Broker, SimBroker, AlpacaBroker, OrderRequest, reconcile

``AlpacaBroker`` is imported on first use (PEP 562 ``__getattr__``): alpaca-py costs about
0.13 s to import, and only the Alpaca path needs it, not the simulator, the worker or the
pages that read the ledger.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Engine

from core.broker.base import (
    Broker,
    BrokerAccount,
    BrokerConfigError,
    BrokerError,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailableError,
    CircuitOpenError,
    LedgerBroker,
    OrderIdConflictError,
    OrderNotFoundError,
    OrderRejectedError,
    OrderRequest,
    new_client_order_id,
)
from core.broker.ledger import (
    MirroredBroker,
    apply_broker_order,
    apply_fill,
    record_order,
    record_orders,
    sync_account,
    sync_orders,
)
from core.broker.reconcile import Difference, ReconciliationReport, reconcile
from core.broker.resilience import CircuitBreaker, RetryPolicy
from core.broker.sim import SimBroker
from core.broker.snapshot import portfolio_state

if TYPE_CHECKING:
    from core.broker.alpaca import AlpacaBroker


def __getattr__(name: str) -> Any:
    """Import :class:`AlpacaBroker` (and alpaca-py) on first access."""
    if name == "AlpacaBroker":
        from core.broker.alpaca import AlpacaBroker

        globals()["AlpacaBroker"] = AlpacaBroker
        return AlpacaBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_broker(
    kind: Literal["sim", "alpaca"], *, engine: Engine | None = None, **options: Any
) -> Broker:
    """Build a broker by name: ``"sim"`` needs ``engine``; ``"alpaca"`` reads its keys.

    Parameters
    ----------
    kind
        ``"sim"`` or ``"alpaca"``.
    engine
        Database of the simulator.
    **options
        Keyword arguments of :class:`SimBroker` or :class:`AlpacaBroker`.
    """
    if kind == "sim":
        if engine is None:
            raise BrokerConfigError("the simulator needs engine=<a migrated database engine>")
        return SimBroker(engine, **options)
    if kind == "alpaca":
        alpaca: type[AlpacaBroker] = sys.modules[__name__].AlpacaBroker  # lazy; tests patch it
        return alpaca(**options)
    raise BrokerConfigError(f"unknown broker {kind!r}; use 'sim' or 'alpaca'")


__all__ = [
    "AlpacaBroker",
    "Broker",
    "BrokerAccount",
    "BrokerConfigError",
    "BrokerError",
    "BrokerOrder",
    "BrokerPosition",
    "BrokerUnavailableError",
    "CircuitBreaker",
    "CircuitOpenError",
    "Difference",
    "LedgerBroker",
    "MirroredBroker",
    "OrderIdConflictError",
    "OrderNotFoundError",
    "OrderRejectedError",
    "OrderRequest",
    "ReconciliationReport",
    "RetryPolicy",
    "SimBroker",
    "apply_broker_order",
    "apply_fill",
    "make_broker",
    "new_client_order_id",
    "portfolio_state",
    "reconcile",
    "record_order",
    "record_orders",
    "sync_account",
    "sync_orders",
]
