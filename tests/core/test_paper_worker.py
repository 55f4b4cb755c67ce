"""The paper worker against an in-memory broker (the broker protocol implemented here):
one cycle places the decided order, a kill flattens, a restart duplicates nothing.

The fake is a broker with a market of its own: it quotes the bars it is shown, fills a
market order in full when it is submitted, and keeps its own book, which the worker's
ledger mirrors (``sync_orders``, ``sync_account``, ``apply_answer``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.broker import (
    Broker,
    BrokerAccount,
    BrokerOrder,
    BrokerPosition,
    OrderRequest,
    apply_broker_order,
    reconcile,
    sync_account,
    sync_orders,
)
from core.data.loaders import embedded_sources
from core.paper.ids import client_order_id
from core.paper.session import open_session
from core.paper.worker import PaperWorker
from core.pipeline import SymbolBook, build_pipeline
from core.risk import RiskLimits
from core.store.db import make_engine, session_scope, upgrade
from core.store.paper import PaperSessionRepository, WorkerControlRepository
from core.store.trading import OrderRepository, PositionRepository, TradingFill, TradingOrder

NAME, SYMBOL, TRAIN = "fake", "SP500", 260
LOOSE = RiskLimits(
    max_weight_per_asset=1,
    max_gross_exposure=1,
    var_limit_95=1,
    max_concentration=1,
    max_order_notional=1_000_000,
)
T0 = datetime(2026, 1, 5, tzinfo=UTC)


class LostAnswer(RuntimeError):
    """The broker took the order, then the process died before it heard back."""


class FakeBroker:
    """An in-memory broker with its own market (see the module docstring)."""

    name = "fake"

    def __init__(self, cash: float = 100_000.0) -> None:
        self.cash = cash
        self.quotes: dict[str, float] = {}
        self.book: dict[str, tuple[float, float]] = {}  # symbol -> (qty, avg price)
        self.orders: dict[str, BrokerOrder] = {}  # by client_order_id
        self.submits: list[str] = []
        self.lose_next_answer = False

    # -------------------------------------------------------------- reads
    def account(self) -> BrokerAccount:
        value = sum(q * self.quotes[s] for s, (q, _) in self.book.items())
        return BrokerAccount("fake", "fake-1", self.cash, self.cash + value, self.cash)

    def positions(self) -> list[BrokerPosition]:
        return [
            BrokerPosition(s, q, avg, self.quotes.get(s))
            for s, (q, avg) in sorted(self.book.items())
            if q != 0
        ]

    def open_orders(self) -> list[BrokerOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def get_order(self, order_id: str) -> BrokerOrder | None:
        return next((o for o in self.orders.values() if o.id == order_id), None)

    def get_order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        return self.orders.get(client_order_id)

    def latest_price(self, symbol: str) -> float | None:
        return self.quotes.get(symbol)

    # -------------------------------------------------------------- writes
    def submit(self, order: OrderRequest) -> BrokerOrder:
        self.submits.append(order.client_order_id)
        if order.client_order_id in self.orders:  # idempotent on the key
            return self.orders[order.client_order_id]
        price = self.quotes[order.symbol]
        signed = order.qty if order.side == "buy" else -order.qty
        qty, avg = self.book.get(order.symbol, (0.0, 0.0))
        new_qty = qty + signed
        adds = qty == 0 or (qty > 0) == (signed > 0)
        new_avg = (abs(qty) * avg + order.qty * price) / abs(new_qty) if adds else avg
        self.book[order.symbol] = (new_qty, new_avg if new_qty else 0.0)
        self.cash -= signed * price
        placed = BrokerOrder(
            id=f"fake-{len(self.orders) + 1}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            filled_qty=order.qty,
            avg_fill_price=price,
            status="filled",
            order_type=order.order_type,
            limit_price=order.limit_price,
            created_at=T0,
            updated_at=T0,
        )
        self.orders[order.client_order_id] = placed
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise LostAnswer("connection dropped after the broker took the order")
        return placed

    def cancel(self, order_id: str) -> None:
        pass  # orders fill when submitted: nothing stays open

    def cancel_all(self) -> int:
        return 0

    # -------------------------------------------------------------- the bar and the ledger
    def on_bar(self, ts: datetime, prices: Mapping[str, float]) -> list[BrokerOrder]:
        self.quotes.update(prices)  # its market quotes the replayed bar; fills nothing here
        return []

    def sync_orders(self, session: Session, account_id: int) -> list[TradingOrder]:
        return sync_orders(session, account_id, self)

    def sync_account(self, session: Session, account_id: int) -> None:
        sync_account(session, account_id, self)

    def apply_answer(
        self, session: Session, order: TradingOrder, seen: BrokerOrder
    ) -> TradingFill | None:
        return apply_broker_order(session, order, seen)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'worker.db'}")
    upgrade(eng)
    with session_scope(eng) as s:
        config = {
            "session": NAME,
            "broker": "fake",
            "dataset": "ohlcv_daily",
            "symbols": [SYMBOL],
            "initial_cash": 100_000.0,
            "train_bars": TRAIN,
            "selector": "ucb",
            "seed": 0,
        }
        open_session(s, config)
        WorkerControlRepository(s).set("running", updated_by="test")
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return embedded_sources()["ohlcv_daily"].load(SYMBOL).iloc[:340]


def worker(engine: Engine, broker: Broker, frame: pd.DataFrame) -> PaperWorker:
    return PaperWorker(
        engine=engine,
        session_name=NAME,
        prices={SYMBOL: frame},
        broker=broker,
        limits=lambda: LOOSE,
        sleep=lambda _s: None,
        headroom=1.0,
    )


def ledger(engine: Engine, broker: Broker) -> dict[str, Any]:
    """The worker's ledger of the session, and whether it agrees with ``broker``."""
    with session_scope(engine) as s:
        row = PaperSessionRepository(s).get(NAME)
        assert row is not None and row.account_id is not None
        orders = OrderRepository(s).list(row.account_id)
        return {
            "orders": sorted((o.client_order_id, o.side, o.qty, o.status) for o in orders),
            "positions": {p.symbol: p.qty for p in PositionRepository(s).list(row.account_id)},
            "cursor": row.cursor,
            "agrees": reconcile(s, broker, account_id=row.account_id, record=False).ok,
        }


def order_status(engine: Engine, cid: str) -> str | None:
    with session_scope(engine) as s:
        row = PaperSessionRepository(s).get(NAME)
        assert row is not None and row.account_id is not None
        order = OrderRepository(s).by_client_id(cid, account_id=row.account_id)
        return None if order is None else order.status


def expected_first_order(frame: pd.DataFrame) -> tuple[str, float]:
    """The order of the first traded bar, from the decision pipeline alone: flat book,
    100,000 of equity, no bounds (the loose limits and headroom 1 bound nothing here)."""
    pipe = build_pipeline(frame, train_bars=TRAIN, selector="ucb", seed=0, symbol=SYMBOL)
    pipe.warm_up(frame.iloc[:TRAIN])
    row = frame.iloc[TRAIN]
    bar = {k: float(row[k]) for k in ("open", "high", "low", "close", "volume")}
    decision = pipe.step({**bar, "ts": frame.index[TRAIN], "symbol": SYMBOL}, SymbolBook(1e5))
    return ("buy" if decision.order_qty > 0 else "sell"), math.floor(abs(decision.order_qty))


def test_one_cycle_places_the_order_the_pipeline_decided(
    engine: Engine, frame: pd.DataFrame
) -> None:
    broker = FakeBroker()
    summary = worker(engine, broker, frame).run(steps=1)
    side, qty = expected_first_order(frame)
    assert qty >= 1, "the first traded bar should trade"
    cid = client_order_id(NAME, SYMBOL, frame.index[TRAIN])
    assert broker.submits == [cid]
    placed = broker.orders[cid]
    assert (placed.side, placed.qty) == (side, qty)
    assert placed.avg_fill_price == float(frame["close"].iloc[TRAIN])  # quoted at the close
    assert (summary.cycles, summary.orders, summary.fills, summary.rejected) == (1, 1, 1, 0)
    book = ledger(engine, broker)
    assert book["orders"] == [(cid, side, qty, "filled")]
    assert book["positions"] == {SYMBOL: qty if side == "buy" else -qty}
    assert book["cursor"] == TRAIN and book["agrees"]
    cash = 100_000.0 - (qty if side == "buy" else -qty) * float(frame["close"].iloc[TRAIN])
    assert broker.cash == pytest.approx(cash)


def test_a_kill_flattens_at_the_last_close(engine: Engine, frame: pd.DataFrame) -> None:
    broker = FakeBroker()
    worker(engine, broker, frame).run(steps=3)
    held = broker.book[SYMBOL][0]
    assert held != 0
    with session_scope(engine) as s:
        WorkerControlRepository(s).set("killed", updated_by="test", reason="unit test")
    summary = worker(engine, broker, frame).run(steps=5)
    assert summary.state == "killed" and summary.cycles == 0
    last = frame.index[TRAIN + 2]  # the last completed bar: its close is the flatten price
    flatten = broker.orders[client_order_id(NAME, SYMBOL, last, tag="flatten")]
    assert (flatten.side, flatten.qty) == ("sell" if held > 0 else "buy", abs(held))
    assert flatten.avg_fill_price == float(frame["close"].iloc[TRAIN + 2])
    assert broker.book[SYMBOL][0] == 0
    book = ledger(engine, broker)
    assert book["positions"] == {} and book["agrees"] and book["cursor"] == TRAIN + 2
    with session_scope(engine) as s:
        control = WorkerControlRepository(s).get()
        assert control.desired_state == "stopped"
        assert control.reason == "killed (unit test); positions flattened"


def test_a_restart_after_a_lost_answer_sends_no_second_order(
    engine: Engine, frame: pd.DataFrame, tmp_path: Path
) -> None:
    broker = FakeBroker()
    worker(engine, broker, frame).run(steps=2)
    broker.lose_next_answer = True  # the next order reaches the broker, then we die
    with pytest.raises(LostAnswer):
        worker(engine, broker, frame).run(until=frame.index[TRAIN + 20])
    lost = broker.submits[-1]
    assert order_status(engine, lost) == "pending_new"  # recorded, never answered
    last = frame.index[TRAIN + 24]
    summary = worker(engine, broker, frame).run(until=last)
    assert summary.resubmitted == 1 and summary.last_bar == str(last.date())
    assert broker.submits.count(lost) == 2  # the same key again: the broker's order back
    assert len(broker.orders) == len(set(broker.submits))
    assert order_status(engine, lost) == "filled"
    crashed = ledger(engine, broker)
    ids = [o[0] for o in crashed["orders"]]
    assert len(ids) == len(set(ids)) == len(broker.orders) >= 3
    assert crashed["cursor"] == TRAIN + 24 and crashed["agrees"]

    # the same bars without a crash: the same orders, positions and cash
    calm_engine = make_engine(f"sqlite:///{tmp_path / 'calm.db'}")
    upgrade(calm_engine)
    with session_scope(engine) as s, session_scope(calm_engine) as t:
        config = PaperSessionRepository(s).get(NAME).config  # type: ignore[union-attr]
        open_session(t, config)
        WorkerControlRepository(t).set("running", updated_by="test")
    calm = FakeBroker()
    worker(calm_engine, calm, frame).run(until=last)
    reference = ledger(calm_engine, calm)
    assert reference["orders"] == crashed["orders"]
    assert reference["positions"] == crashed["positions"]
    assert calm.cash == pytest.approx(broker.cash) and calm.book == broker.book
    calm_engine.dispose()
