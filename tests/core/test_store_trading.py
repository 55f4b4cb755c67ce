"""Order states: one definition of "open", used by the store and the broker alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.broker import BrokerOrder
from core.store.db import make_engine, session_scope, upgrade
from core.store.trading import (
    OPEN_ORDER_STATUSES,
    AccountRepository,
    OrderRepository,
    TradingOrder,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
CLOSED = ("filled", "canceled", "expired", "rejected", "replaced")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'trading.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def broker_order(status: str) -> BrokerOrder:
    return BrokerOrder(
        id=f"b-{status}",
        client_order_id=f"c-{status}",
        symbol="AAPL",
        side="buy",
        qty=1.0,
        filled_qty=0.0,
        avg_fill_price=None,
        status=status,
        order_type="market",
        limit_price=None,
        created_at=T0,
        updated_at=T0,
    )


def test_the_open_states_are_alpacas_states_that_may_still_fill() -> None:
    assert set(OPEN_ORDER_STATUSES) == {
        "pending_new",
        "new",
        "accepted",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "held",
    }
    assert len(OPEN_ORDER_STATUSES) == len(set(OPEN_ORDER_STATUSES))
    assert not set(CLOSED) & set(OPEN_ORDER_STATUSES)


@pytest.mark.parametrize("status", OPEN_ORDER_STATUSES)
def test_every_open_state_is_open_for_the_broker(status: str) -> None:
    assert broker_order(status).is_open


@pytest.mark.parametrize("status", CLOSED)
def test_a_finished_order_is_not_open_for_the_broker(status: str) -> None:
    assert not broker_order(status).is_open


def test_the_store_lists_exactly_the_orders_in_an_open_state(engine: Engine) -> None:
    statuses = (*OPEN_ORDER_STATUSES, *CLOSED)
    with session_scope(engine) as s:
        account = AccountRepository(s).get_or_create("sim", "states", initial_cash=1_000.0)
        other = AccountRepository(s).get_or_create("sim", "other", initial_cash=1_000.0)
        orders = OrderRepository(s)
        for status in statuses:
            orders.add(
                TradingOrder(
                    account_id=account.id,
                    client_order_id=f"c-{status}",
                    symbol="MSFT" if status == "held" else "AAPL",
                    side="buy",
                    qty=1.0,
                    status=status,
                )
            )
        orders.add(
            TradingOrder(
                account_id=other.id,
                client_order_id="c-other",
                symbol="AAPL",
                side="buy",
                qty=1.0,
                status="new",
            )
        )
        account_id = account.id
    with session_scope(engine) as s:
        orders = OrderRepository(s)
        assert [o.status for o in orders.open(account_id)] == list(OPEN_ORDER_STATUSES)
        assert [o.status for o in orders.open(account_id, symbol="MSFT")] == ["held"]
        for o in orders.open(account_id):
            assert broker_order(o.status).is_open
