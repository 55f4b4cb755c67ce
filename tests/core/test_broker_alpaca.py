"""AlpacaBroker through the real alpaca-py clients against a fake Alpaca server."""

# ruff: noqa: F811  (pytest fixtures imported from tests.fakes.fixtures are test parameters)

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from core.broker import (
    AlpacaBroker,
    Broker,
    BrokerConfigError,
    BrokerUnavailableError,
    CircuitBreaker,
    CircuitOpenError,
    OrderRejectedError,
    OrderRequest,
    RetryPolicy,
    apply_broker_order,
    reconcile,
    record_order,
    sync_account,
    sync_orders,
)
from core.store.db import make_engine, session_scope, upgrade
from core.store.trading import (
    AccountRepository,
    OrderRepository,
    PositionRepository,
    ReconciliationRecord,
)
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.fixtures import broker_for, fake_alpaca  # noqa: F401

T0 = datetime(2025, 1, 2, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'alpaca.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def order(symbol: str, qty: float, cid: str, side: str = "buy") -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, qty=qty, client_order_id=cid)  # type: ignore[arg-type]


def test_account_positions_orders_and_bars_parse(fake_alpaca: FakeAlpaca) -> None:
    broker = broker_for(fake_alpaca)
    assert isinstance(broker, Broker)
    fake_alpaca.set_position("MSFT", -5, 400.0)
    fake_alpaca.prices.update(AAPL=190.0, MSFT=410.0)
    fake_alpaca.fill_mode = "fill"
    placed = broker.submit(order("AAPL", 10, "parse-1"))
    assert (placed.status, placed.filled_qty, placed.avg_fill_price) == ("filled", 10, 190.0)

    account = broker.account()
    assert account.cash == pytest.approx(100_000 - 1_900)
    assert account.equity == pytest.approx(100_000 - 1_900 + 1_900 - 5 * 410)
    assert account.account_id == "PA3FAKE0001" and account.currency == "USD"
    assert {(p.symbol, p.qty, p.avg_price, p.market_price) for p in broker.positions()} == {
        ("AAPL", 10, 190.0, 190.0),
        ("MSFT", -5, 400.0, 410.0),
    }
    fake_alpaca.fill_mode = "none"
    limit = broker.submit(
        OrderRequest("AAPL", "sell", 3, "parse-2", order_type="limit", limit_price=250.0)
    )
    [open_order] = broker.open_orders()
    assert open_order.id == limit.id
    assert (open_order.order_type, open_order.limit_price, open_order.side) == (
        "limit",
        250,
        "sell",
    )
    broker.cancel(limit.id)
    assert broker.get_order(limit.id).status == "canceled"  # type: ignore[union-attr]
    broker.submit(order("AAPL", 1, "parse-3"))
    assert broker.cancel_all() == 1 and broker.open_orders() == []
    assert broker.get_order("00000000-0000-0000-0000-000000000000") is None
    with pytest.raises(OrderRejectedError, match="not cancelable"):
        broker.cancel(limit.id)

    rows = [
        {"t": T0 + timedelta(days=i), "o": 100 + i, "h": 102 + i, "l": 99 + i, "c": 101 + i}
        for i in range(5)
    ]
    fake_alpaca.add_bars("AAPL", [{**row, "v": 1e6} for row in rows])
    bars = broker.bars("AAPL", start=T0 + timedelta(days=1), end=T0 + timedelta(days=3))
    assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
    assert bars["close"].tolist() == [102, 103, 104]
    assert bars.index[0] == T0 + timedelta(days=1)
    assert broker.latest_price("AAPL") == 105.0
    assert fake_alpaca.count("GET", "/v2/stocks/bars") == 1


def test_5xx_is_retried_with_exponential_backoff(fake_alpaca: FakeAlpaca) -> None:
    sleeps: list[float] = []
    retry = RetryPolicy(max_attempts=4, base_delay_s=0.05, multiplier=2.0, jitter=False)
    broker = broker_for(fake_alpaca, retry=retry, sleep=sleeps.append)
    fake_alpaca.fail_next(2, status=503, path="/v2/account")
    assert broker.account().cash == 100_000
    assert fake_alpaca.count("GET", "/v2/account") == 3
    assert sleeps == [0.05, 0.1]
    fake_alpaca.fail_next(9, status=500, path="/v2/positions")
    with pytest.raises(BrokerUnavailableError, match=r"positions failed after 4 attempt\(s\)"):
        broker.positions()
    assert sleeps[2:] == [0.05, 0.1, 0.2]


def test_timeout_after_submit_looks_up_the_order_instead_of_resubmitting(
    fake_alpaca: FakeAlpaca,
) -> None:
    broker = broker_for(fake_alpaca, timeout_s=0.3)
    fake_alpaca.delay_next(1.0, method="POST", path="/v2/orders")  # accepted, answer lost
    placed = broker.submit(order("AAPL", 7, "timeout-1"))
    assert placed.client_order_id == "timeout-1" and placed.qty == 7
    assert len(fake_alpaca.orders) == 1
    assert fake_alpaca.count("POST", "/v2/orders") == 1
    assert fake_alpaca.count("GET", "/v2/orders:by_client_order_id") == 1

    # a 5xx that never reached the book: lookup finds nothing, so it is sent again
    fake_alpaca.fail_next(1, status=502, method="POST", path="/v2/orders")
    second = broker.submit(order("AAPL", 2, "retry-1"))
    assert second.client_order_id == "retry-1"
    assert len(fake_alpaca.orders) == 2 and len(fake_alpaca.posted_orders()) == 2

    # sending the same key again returns the same order (Alpaca's 422 duplicate)
    again = broker.submit(order("AAPL", 2, "retry-1"))
    assert again.id == second.id and len(fake_alpaca.orders) == 2


def test_rejection_surfaces_a_clear_error_and_is_not_retried(fake_alpaca: FakeAlpaca) -> None:
    broker = broker_for(fake_alpaca)
    fake_alpaca.reject_next_order(403, "insufficient buying power")
    with pytest.raises(OrderRejectedError) as info:
        broker.submit(order("AAPL", 1_000_000, "too-big"))
    assert info.value.status_code == 403
    assert str(info.value) == "alpaca rejected order (HTTP 403): insufficient buying power"
    assert fake_alpaca.count("POST", "/v2/orders") == 1 and fake_alpaca.orders == {}
    fake_alpaca.reject_next_order(422, "qty must be a whole number for this asset")
    with pytest.raises(OrderRejectedError, match=r"HTTP 422.*whole number"):
        broker.submit(order("AAPL", 1, "odd"))
    assert broker.breaker.state == "closed"


def test_partial_fills_and_reconciliation(fake_alpaca: FakeAlpaca, engine: Engine) -> None:
    broker = broker_for(fake_alpaca)
    fake_alpaca.fill_mode = "partial"
    fake_alpaca.prices["AAPL"] = 100.0
    with session_scope(engine) as s:
        account_id = AccountRepository(s).get_or_create("alpaca", "paper").id
        record_order(s, account_id, order("AAPL", 10, "pf-1"))
    placed = broker.submit(order("AAPL", 10, "pf-1"))
    assert (placed.status, placed.filled_qty) == ("partially_filled", 5)

    with session_scope(engine) as s:
        report = reconcile(s, broker, account_id=account_id)
    assert report.to_dicts() == [
        {"kind": "position", "symbol": "AAPL", "local": 0.0, "broker": 5.0},
        {
            "kind": "order",
            "client_order_id": "pf-1",
            "local": {"status": "pending_new", "filled_qty": 0.0, "qty": 10.0},
            "broker": {"status": "partially_filled", "filled_qty": 5.0, "qty": 10.0},
        },
    ]
    assert broker.on_bar(T0, {"AAPL": 1.0}) == []  # Alpaca fills at its own prices
    with session_scope(engine) as s:
        assert [o.client_order_id for o in broker.sync_orders(s, account_id)] == ["pf-1"]
        broker.sync_account(s, account_id)
        assert AccountRepository(s).get(account_id).cash == pytest.approx(99_500)  # type: ignore[union-attr]
    with session_scope(engine) as s:
        assert reconcile(s, broker, account_id=account_id).ok

    fake_alpaca.fill(placed.id, price=102.0)  # the rest fills later at 102
    with session_scope(engine) as s:
        late = reconcile(s, broker, account_id=account_id)
        assert {d.kind for d in late.differences} == {"position", "order"}
        sync_orders(s, account_id, broker)
        row = OrderRepository(s).by_client_id("pf-1", account_id=account_id)
        assert row is not None and (row.status, row.filled_qty) == ("filled", 10)
        assert row.avg_fill_price == pytest.approx(101.0)
        position = PositionRepository(s).get(account_id, "AAPL")
        assert position is not None and (position.qty, position.avg_price) == (10, 101.0)
        assert AccountRepository(s).get(account_id).cash == pytest.approx(99_500)  # type: ignore[union-attr]
        # replaying the same broker view changes nothing
        assert apply_broker_order(s, row, broker.get_order_by_client_id("pf-1")) is None  # type: ignore[arg-type]

    # an order only the ledger knows, and one only the broker knows
    with session_scope(engine) as s:
        record_order(s, account_id, order("MSFT", 1, "never-sent"))
    fake_alpaca.fill_mode = "none"
    broker.submit(order("TSLA", 2, "placed-by-hand"))
    with session_scope(engine) as s:
        report = reconcile(s, broker, account_id=account_id)
    assert report.to_dicts() == [
        {
            "kind": "order",
            "client_order_id": "never-sent",
            "local": {"status": "pending_new", "filled_qty": 0.0, "qty": 1.0},
            "broker": None,
        },
        {
            "kind": "order",
            "client_order_id": "placed-by-hand",
            "local": None,
            "broker": {"status": "new", "filled_qty": 0.0, "qty": 2.0},
        },
    ]
    with session_scope(engine) as s:
        stored = s.scalars(select(ReconciliationRecord).order_by(ReconciliationRecord.id)).all()
        assert [r.n_differences for r in stored] == [2, 0, 2, 2]


def test_circuit_breaker_opens_then_half_opens(fake_alpaca: FakeAlpaca) -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10.0, clock=lambda: now[0])
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.0, jitter=False)
    broker = broker_for(fake_alpaca, breaker=breaker, retry=retry)
    fake_alpaca.fail_next(100, status=503, path="/v2/account")
    with pytest.raises(BrokerUnavailableError):
        broker.account()  # failures 1 and 2
    with pytest.raises(CircuitOpenError, match="circuit open after 3 consecutive failures"):
        broker.account()  # failure 3 opens it; the retry is refused
    assert breaker.state == "open"
    hits = fake_alpaca.count("GET", "/v2/account")
    with pytest.raises(CircuitOpenError, match=r"next trial in 10\.0 s"):
        broker.positions()  # fails fast, no request at all
    assert fake_alpaca.count("GET", "/v2/account") == hits == 3
    assert fake_alpaca.count("GET", "/v2/positions") == 0

    now[0] = 10.0
    assert breaker.state == "half_open"
    with pytest.raises(CircuitOpenError):
        broker.account()  # the single trial fails: open again
    assert fake_alpaca.count("GET", "/v2/account") == 4 and breaker.state == "open"

    now[0] = 20.0
    fake_alpaca.clear_faults()
    assert broker.account().cash == 100_000  # the trial succeeds: closed
    assert breaker.state == "closed" and breaker.consecutive_failures == 0


def test_keys_come_from_settings_and_are_never_logged_or_stored(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from core.config import get_settings

    key, secret = "PKTESTKEY7Q3Z9XW2", "sEcReT+9d8f7g6h5j4k3l2"
    fake = FakeAlpaca(key=key, secret=secret).start()
    try:
        monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(tmp_path / "none.toml"))
        monkeypatch.delenv("ALPACA_API_KEY", raising=False)
        monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
        get_settings.cache_clear()
        with pytest.raises(BrokerConfigError, match="ALPACA_API_KEY is not set"):
            AlpacaBroker(url_override=fake.url)
        with pytest.raises(BrokerConfigError, match="live trading is disabled"):
            AlpacaBroker(key=key, secret=secret, paper=False)
        (tmp_path / "secrets.toml").write_text(f'[alpaca]\nALPACA_SECRET_KEY = "{secret}"\n')
        monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(tmp_path / "secrets.toml"))
        monkeypatch.setenv("ALPACA_API_KEY", key)
        get_settings.cache_clear()

        wrong = AlpacaBroker(url_override=fake.url, secret="not-the-secret")
        with pytest.raises(BrokerConfigError, match=r"refused the credentials .*HTTP 401"):
            wrong.account()

        caplog.set_level(logging.DEBUG)
        broker = AlpacaBroker(
            url_override=fake.url,
            retry=RetryPolicy(max_attempts=3, base_delay_s=0.0, jitter=False),
        )
        fake.fill_mode = "fill"
        fake.fail_next(1, status=500, path="/v2/account")
        with session_scope(engine) as s:
            account_id = AccountRepository(s).get_or_create("alpaca", "paper").id
            sync_account(s, account_id, broker)
            row = record_order(s, account_id, order("AAPL", 1, "k-1"))
            apply_broker_order(s, row, broker.submit(order("AAPL", 1, "k-1")))
            reconcile(s, broker, account_id=account_id)
        fake.reject_next_order(403, "forbidden")
        with pytest.raises(OrderRejectedError) as info:
            broker.submit(order("AAPL", 1, "k-2"))
    finally:
        fake.close()

    assert "attempt 1/3 failed" in caplog.text  # the logs were captured
    with engine.connect() as conn:
        dump = "\n".join(conn.connection.driver_connection.iterdump())  # type: ignore[union-attr]
    assert "k-1" in dump  # the dump holds the data
    for text in (caplog.text, dump, repr(broker), str(info.value)):
        assert key not in text and secret not in text
