"""The database-backed simulated broker on a real, migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select

from core.broker import (
    Broker,
    OrderNotFoundError,
    OrderRejectedError,
    OrderRequest,
    SimBroker,
    portfolio_state,
    reconcile,
    record_order,
)
from core.risk import ProposedOrder, RiskLimits, pre_trade_check
from core.store.db import make_engine, session_scope, upgrade
from core.store.paper import DecisionRepository, HeartbeatRepository, WorkerControlRepository
from core.store.trading import (
    OrderRepository,
    ReconciliationRecord,
    TradingAccount,
    TradingFill,
    TradingOrder,
    TradingPosition,
)

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'sim.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def buy(symbol: str, qty: float, cid: str) -> OrderRequest:
    return OrderRequest(symbol=symbol, side="buy", qty=qty, client_order_id=cid)


def sell(symbol: str, qty: float, cid: str) -> OrderRequest:
    return OrderRequest(symbol=symbol, side="sell", qty=qty, client_order_id=cid)


def count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_market_orders_fill_at_next_price_with_slippage_and_fees(engine: Engine) -> None:
    sim = SimBroker(engine, initial_cash=100_000, fees=0.001, slippage=0.0005)
    assert isinstance(sim, Broker)
    sim.on_price("AAPL", T0, 190.0)  # a price before the order: not its fill price
    order = sim.submit(buy("AAPL", 100, "buy-1"))
    other = sim.submit(buy("MSFT", 10, "buy-msft"))
    assert order.status == "new" and order.filled_qty == 0
    assert [o.client_order_id for o in sim.open_orders()] == ["buy-1", "buy-msft"]

    filled = sim.on_price("AAPL", T0 + timedelta(days=1), 200.0)
    assert [o.client_order_id for o in filled] == ["buy-1"]
    done = sim.get_order(order.id)
    assert done is not None and done.status == "filled"
    assert done.avg_fill_price == pytest.approx(200.1)  # 200 * (1 + 5 bps)
    account = sim.account()
    # cash: 100,000 - 100 * 200.1 - fee 0.001 * 20,010 = 79,969.99
    assert account.cash == pytest.approx(79_969.99)
    assert account.equity == pytest.approx(79_969.99 + 100 * 200.0)
    assert sim.get_order(other.id).status == "new"  # type: ignore[union-attr]

    sim.submit(sell("AAPL", 40, "sell-1"))
    sim.on_price("AAPL", T0 + timedelta(days=2), 210.0)
    # sell at 210 * (1 - 5 bps) = 209.895; fee 0.001 * 40 * 209.895 = 8.3958
    assert sim.account().cash == pytest.approx(79_969.99 + 40 * 209.895 - 8.3958)
    [position] = sim.positions()
    assert (position.symbol, position.qty, position.avg_price) == ("AAPL", 60, pytest.approx(200.1))
    assert sim.account().equity == pytest.approx(79_969.99 + 40 * 209.895 - 8.3958 + 60 * 210)
    with session_scope(engine) as s:
        row = s.scalar(select(TradingPosition).where(TradingPosition.symbol == "AAPL"))
        assert row is not None and row.realized_pnl == pytest.approx(40 * (209.895 - 200.1))
        fills = s.scalars(select(TradingFill).order_by(TradingFill.id)).all()
        assert [(f.side, f.qty, round(f.price, 4), round(f.fee, 4)) for f in fills] == [
            ("buy", 100, 200.1, 20.01),
            ("sell", 40, 209.895, 8.3958),
        ]
    assert sim.latest_price("AAPL") == 210.0


def test_limit_orders_cancel_and_cancel_all(engine: Engine) -> None:
    sim = SimBroker(engine, fees=0.0, slippage=0.0)
    limit = sim.submit(
        OrderRequest("AAPL", "buy", 5, "lim-1", order_type="limit", limit_price=195.0)
    )
    assert sim.on_price("AAPL", T0, 200.0) == []  # above the limit: keeps waiting
    assert [o.id for o in sim.on_price("AAPL", T0, 194.0)] == [limit.id]
    with pytest.raises(OrderRejectedError, match="is filled and cannot be cancelled"):
        sim.cancel(limit.id)
    with pytest.raises(OrderNotFoundError):
        sim.cancel("sim-unknown")
    a = sim.submit(buy("MSFT", 1, "c-a"))
    sim.submit(buy("MSFT", 1, "c-b"))
    sim.cancel(a.id)
    assert sim.get_order(a.id).status == "canceled"  # type: ignore[union-attr]
    assert sim.cancel_all() == 1
    assert sim.open_orders() == []
    assert sim.on_price("MSFT", T0, 100.0) == []


def test_submit_is_idempotent_on_client_order_id(engine: Engine) -> None:
    sim = SimBroker(engine)
    first = sim.submit(buy("AAPL", 10, "same-key"))
    again = sim.submit(buy("AAPL", 10, "same-key"))
    assert again.id == first.id
    assert count(engine, TradingOrder) == 1
    sim.on_price("AAPL", T0, 100.0)
    after_fill = sim.submit(buy("AAPL", 10, "same-key"))
    assert after_fill.id == first.id and after_fill.status == "filled"
    assert count(engine, TradingFill) == 1
    with pytest.raises(OrderRejectedError, match="was used for a different order"):
        sim.submit(buy("AAPL", 11, "same-key"))
    # an order recorded by the ledger before sending is accepted in place
    with session_scope(engine) as s:
        pending = record_order(s, sim.account_id, buy("MSFT", 3, "ledger-first"))
        assert pending.status == "pending_new" and pending.broker_order_id is None
    assert sim.get_order_by_client_id("ledger-first") is None  # not yet accepted
    accepted = sim.submit(buy("MSFT", 3, "ledger-first"))
    assert accepted.status == "new" and accepted.id.startswith("sim-")
    assert count(engine, TradingOrder) == 2


def test_state_survives_a_restart(engine: Engine) -> None:
    first = SimBroker(engine, account="paper", initial_cash=50_000, fees=0.0, slippage=0.0)
    first.submit(buy("AAPL", 10, "r-1"))
    first.on_price("AAPL", T0, 100.0)
    pending = first.submit(buy("AAPL", 5, "r-2"))
    cash = first.account().cash

    second = SimBroker(engine, account="paper", initial_cash=999_999, fees=0.0, slippage=0.0)
    assert second.account_id == first.account_id
    assert second.account().cash == pytest.approx(cash)
    assert cash == pytest.approx(49_000)
    assert [(p.symbol, p.qty) for p in second.positions()] == [("AAPL", 10)]
    assert [o.id for o in second.open_orders()] == [pending.id]
    assert second.latest_price("AAPL") == 100.0  # from the stored position
    second.on_price("AAPL", T0 + timedelta(days=1), 110.0)
    assert [(p.symbol, p.qty) for p in second.positions()] == [("AAPL", 15)]
    assert second.account().equity == pytest.approx(49_000 - 550 + 15 * 110)
    other = SimBroker(engine, account="other")
    assert other.positions() == [] and other.account().cash == 100_000


def test_a_failed_fill_rolls_back_order_position_and_cash(engine: Engine) -> None:
    sim = SimBroker(engine)
    order = sim.submit(buy("AAPL", 10, "tx-1"))
    cash = sim.account().cash

    def boom(*_: object) -> None:
        raise RuntimeError("disk full")

    event.listen(TradingPosition, "before_insert", boom)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            sim.on_price("AAPL", T0, 100.0)
    finally:
        event.remove(TradingPosition, "before_insert", boom)
    unchanged = sim.get_order(order.id)
    assert unchanged is not None and (unchanged.status, unchanged.filled_qty) == ("new", 0)
    assert count(engine, TradingFill) == 0 and count(engine, TradingPosition) == 0
    assert sim.account().cash == cash
    assert len(sim.on_price("AAPL", T0, 100.0)) == 1  # works once the fault is gone

    event.listen(TradingOrder, "after_insert", boom)
    try:
        with pytest.raises(RuntimeError):
            sim.submit(buy("MSFT", 1, "tx-2"))
    finally:
        event.remove(TradingOrder, "after_insert", boom)
    assert sim.get_order_by_client_id("tx-2") is None
    assert count(engine, TradingOrder) == 1


def test_sim_reconciles_with_itself_and_reports_tampering(engine: Engine) -> None:
    sim = SimBroker(engine, fees=0.0, slippage=0.0)
    sim.submit(buy("AAPL", 10, "rc-1"))
    sim.on_price("AAPL", T0, 100.0)
    with session_scope(engine) as s:
        assert reconcile(s, sim, account_id=sim.account_id).ok
    with session_scope(engine) as s:  # the ledger says 12: someone edited it by hand
        s.scalars(select(TradingPosition)).one().qty = 12
    # compare against a second simulator account that still holds 10 (the "broker")
    broker = SimBroker(engine, account="broker", fees=0.0, slippage=0.0)
    broker.submit(buy("AAPL", 10, "rc-b"))
    broker.on_price("AAPL", T0, 100.0)
    with session_scope(engine) as s:
        report = reconcile(s, broker, account_id=sim.account_id)
    assert report.to_dicts() == [{"kind": "position", "symbol": "AAPL", "local": 12, "broker": 10}]
    assert "1 position and 0 order difference(s)" in report.summary()
    assert count(engine, ReconciliationRecord) == 2


def test_worker_control_is_a_single_validated_row(engine: Engine) -> None:
    with session_scope(engine) as s:
        control = WorkerControlRepository(s)
        assert control.get().desired_state == "stopped"
        control.set("running", updated_by="alice", reason="start of day")
        control.set("killed", updated_by="bob", flatten_on_kill=False)
        with pytest.raises(ValueError, match="desired_state must be one of"):
            control.set("exploded", updated_by="bob")
    with session_scope(engine) as s:
        row = WorkerControlRepository(s).get()
        assert (row.desired_state, row.flatten_on_kill, row.updated_by) == ("killed", False, "bob")
        assert count(engine, TradingAccount) == 0


def test_worker_heartbeats_and_decisions_are_logged(engine: Engine) -> None:
    with session_scope(engine) as s:
        beats = HeartbeatRepository(s)
        for cycle in range(5):
            beats.beat(cycle=cycle, status="ok", latency_ms=12.5 + cycle)
        beats.beat(cycle=5, status="error", last_error="broker unavailable")
        assert beats.prune(keep=3) == 3
    with session_scope(engine) as s:
        latest = HeartbeatRepository(s).latest()
        assert latest is not None and (latest.cycle, latest.status) == (5, "error")
        assert [b.cycle for b in HeartbeatRepository(s).recent()] == [5, 4, 3]
        decision = DecisionRepository(s).add(
            symbol="AAPL", payload={"signal": 1, "regime": "bull"}, explanation="trend up"
        )
        assert DecisionRepository(s).recent(symbol="AAPL")[0].id == decision.id


def test_risk_state_from_the_simulator_feeds_the_pre_trade_check(engine: Engine) -> None:
    sim = SimBroker(engine, fees=0.0, slippage=0.0)
    sim.submit(buy("AAPL", 100, "st-1"))
    sim.on_price("AAPL", T0, 200.0)
    with session_scope(engine) as s:
        times = OrderRepository(s).submitted_since(sim.account_id, T0 - timedelta(days=1))
    state = portfolio_state(sim, peak_equity=100_000, recent_order_times=times)
    assert state.positions == {"AAPL": 100} and state.prices == {"AAPL": 200.0}
    assert (state.equity, state.cash) == (100_000, 80_000)
    decision = pre_trade_check(ProposedOrder("AAPL", "buy", 50), state, RiskLimits())
    assert decision.allowed_quantity == 25  # 20% held, 25% allowed


def test_on_bar_fills_at_the_bar_prices_and_the_ledger_methods_have_nothing_to_do(
    engine: Engine,
) -> None:
    sim = SimBroker(engine, fees=0.0, slippage=0.0)
    sim.submit(buy("AAPL", 10, "bar-a"))
    sim.submit(sell("MSFT", 4, "bar-m"))
    filled = sim.on_bar(T0, {"AAPL": 100.0, "MSFT": 50.0})
    assert [o.client_order_id for o in filled] == ["bar-a", "bar-m"]
    assert sorted((p.symbol, p.qty) for p in sim.positions()) == [("AAPL", 10), ("MSFT", -4)]
    assert sim.account().cash == pytest.approx(100_000 - 1_000 + 200)
    assert sim.on_bar(T0, {"AAPL": 120.0}) == []  # nothing left to fill: marks only
    assert sim.account().equity == pytest.approx(100_000 - 1_000 + 200 + 1_200 - 200)
    # the simulator's writes are the ledger: nothing to copy
    with session_scope(engine) as s:
        row = OrderRepository(s).by_client_id("bar-a", account_id=sim.account_id)
        assert row is not None
        seen = sim.get_order_by_client_id("bar-a")
        assert seen is not None
        assert sim.sync_orders(s, sim.account_id) == []
        assert sim.apply_answer(s, row, seen) is None
        sim.sync_account(s, sim.account_id)
    assert sim.account().cash == pytest.approx(99_200)
