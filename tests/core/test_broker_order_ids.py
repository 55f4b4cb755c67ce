"""Order ids are unambiguous across sessions, and every ledger lookup stays in its account."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from core.broker import OrderIdConflictError, OrderRejectedError, OrderRequest, SimBroker
from core.broker.ledger import record_order
from core.paper.ids import MAX_LEN, client_order_id, escape_field, unescape_field
from core.store.db import make_engine, session_scope, upgrade
from core.store.trading import OrderRepository

DAY = date(2010, 1, 4)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def test_session_a_with_symbol_b_c_and_session_a_b_with_symbol_c_get_different_ids() -> None:
    old = [f"wb-{s}-{y}-{DAY:%Y%m%d}-t" for s, y in (("a", "b-c"), ("a-b", "c"))]
    assert old[0] == old[1]  # the defect: the old format collides
    first, second = client_order_id("a", "b-c", DAY), client_order_id("a-b", "c", DAY)
    assert first != second
    assert (first, second) == ("wb-a-b_dc-20100104-t", "wb-a_db-c-20100104-t")


def test_ids_are_deterministic_readable_and_valid_for_alpaca() -> None:
    cid = client_order_id("demo", "SP500", DAY)
    assert cid == client_order_id("demo", "SP500", DAY) == "wb-demo-SP500-20100104-t"
    assert (
        client_order_id("my_sess", "BRK.B", DAY, "flatten") == "wb-my__sess-BRK.B-20100104-flatten"
    )
    long_id = client_order_id("s" * 32, "^" * 32, DAY)  # readable form would be too long
    assert long_id.startswith("wbx-") and len(long_id) == 68
    OrderRequest(symbol="X", side="buy", qty=1, client_order_id=long_id)  # accepted


names = st.text(min_size=1, max_size=32)
tags = st.sampled_from(["t", "flatten", "flatten2", "a-b", "a_b"]) | st.text(min_size=1, max_size=8)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


@settings(max_examples=400, deadline=None)
@given(a=st.tuples(names, names, days, tags), b=st.tuples(names, names, days, tags))
def test_distinct_tuples_never_share_an_id(
    a: tuple[str, str, date, str], b: tuple[str, str, date, str]
) -> None:
    ids = client_order_id(*a), client_order_id(*b)
    assert (ids[0] == ids[1]) == (a == b)
    for cid in ids:
        assert len(cid) <= MAX_LEN
        OrderRequest(symbol="X", side="buy", qty=1, client_order_id=cid)  # Alpaca's charset


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_escaping_round_trips_and_never_contains_the_separator(text: str) -> None:
    escaped = escape_field(text)
    assert "-" not in escaped
    assert unescape_field(escaped) == text


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.sampled_from(["a", "b", "-", "_", "c"]), min_size=1, max_size=6),
    b=st.lists(st.sampled_from(["a", "b", "-", "_", "c"]), min_size=1, max_size=6),
    c=st.lists(st.sampled_from(["a", "b", "-", "_", "c"]), min_size=1, max_size=6),
    d=st.lists(st.sampled_from(["a", "b", "-", "_", "c"]), min_size=1, max_size=6),
)
def test_dash_and_underscore_heavy_names_never_collide(
    a: list[str], b: list[str], c: list[str], d: list[str]
) -> None:
    # the adversarial alphabet of the defect, searched more densely than random text
    one = ("".join(a), "".join(b))
    two = ("".join(c), "".join(d))
    same = client_order_id(*one, DAY) == client_order_id(*two, DAY)
    assert same == (one == two)


def _request(cid: str, symbol: str = "SP500", qty: float = 3) -> OrderRequest:
    return OrderRequest(symbol=symbol, side="buy", qty=qty, client_order_id=cid)


def test_record_order_never_returns_another_accounts_order(engine: Engine) -> None:
    first = SimBroker(engine, account="a")
    second = SimBroker(engine, account="a-b")
    with session_scope(engine) as s:
        mine = record_order(s, first.account_id, _request("shared-key"))
        mine_id = mine.id
    with session_scope(engine) as s, pytest.raises(OrderIdConflictError, match="belongs to"):
        record_order(s, second.account_id, _request("shared-key"))  # old code returned `mine`
    with session_scope(engine) as s:
        again = record_order(s, first.account_id, _request("shared-key"))  # idempotent
        assert again.id == mine_id
        with pytest.raises(OrderIdConflictError, match="different order"):
            record_order(s, first.account_id, _request("shared-key", qty=4))
        orders = OrderRepository(s)
        assert orders.by_client_id("shared-key", account_id=second.account_id) is None
        assert orders.by_client_id("shared-key", account_id=first.account_id) is not None


def test_the_simulator_only_sees_its_own_accounts_orders(engine: Engine) -> None:
    first = SimBroker(engine, account="a")
    second = SimBroker(engine, account="a-b")
    placed = first.submit(_request("k-1"))
    assert second.get_order_by_client_id("k-1") is None
    assert second.get_order(placed.id) is None
    with pytest.raises(OrderRejectedError, match="another account"):
        second.submit(_request("k-1"))
    assert first.get_order_by_client_id("k-1") == placed
