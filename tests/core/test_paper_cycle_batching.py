"""The paper worker's database work per cycle with the simulator: a bounded number of SQL
statements, and a seeded replay whose orders, fills and equity are exactly those of the
worker before its writes were batched (golden values recorded from that code)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, event, text

from core.data.loaders import embedded_sources
from core.paper.session import common_calendar, make_broker, open_session
from core.paper.worker import PaperWorker
from core.risk import RiskLimits
from core.store.db import make_engine, session_scope, upgrade
from core.store.paper import WorkerControlRepository

SYMBOLS = ["SP500", "IBM"]
TRAIN, BARS = 260, 360


def _config(symbols: list[str]) -> dict[str, Any]:
    return {
        "session": "golden",
        "broker": "sim",
        "dataset": "ohlcv_daily",
        "symbols": symbols,
        "initial_cash": 100_000.0,
        "fees": 0.0005,
        "slippage": 0.0005,
        "train_bars": TRAIN,
        "selector": "contextual",
        "seed": 0,
    }


def _engine(path: Path, symbols: list[str]) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with session_scope(engine) as s:
        open_session(s, _config(symbols))
        WorkerControlRepository(s).set("running", updated_by="test")
    return engine


def _frames(symbols: list[str]) -> dict[str, pd.DataFrame]:
    """The symbols' first ``BARS`` common bars."""
    source = embedded_sources()["ohlcv_daily"]
    frames = {s: source.load(s) for s in symbols}
    common = common_calendar(frames)[:BARS]
    return {s: f.loc[common] for s, f in frames.items()}


def _worker(engine: Engine, symbols: list[str], limits: RiskLimits) -> PaperWorker:
    return PaperWorker(
        engine=engine,
        session_name="golden",
        prices=_frames(symbols),
        broker=make_broker(engine, _config(symbols)),
        limits=lambda: limits,
        sleep=lambda _s: None,
    )


def _ledger(engine: Engine) -> dict[str, Any]:
    """Orders, fills, positions, equity and decisions, rounded and in a stable order."""
    queries = {
        "orders": "SELECT client_order_id, side, qty, status, filled_qty, "
        "round(avg_fill_price, 8) FROM orders ORDER BY client_order_id",
        "fills": "SELECT o.client_order_id, f.qty, round(f.price, 8), round(f.fee, 8) "
        "FROM fills f JOIN orders o ON o.id = f.order_id ORDER BY o.client_order_id, f.id",
        "positions": "SELECT symbol, qty, round(avg_price, 8), round(realized_pnl, 6) "
        "FROM positions ORDER BY symbol",
        "equity": "SELECT bar, round(equity, 6), round(cash, 6) FROM equity_snapshots ORDER BY bar",
        "decisions": "SELECT bar, symbol, json_extract(payload, '$.approved_qty'), "
        "json_extract(payload, '$.regime'), json_extract(payload, '$.client_order_id') "
        "FROM decisions ORDER BY bar, symbol",
    }
    with engine.connect() as con:
        return {k: [list(r) for r in con.execute(text(q))] for k, q in queries.items()}


def _digest(ledger: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ledger, sort_keys=True).encode()).hexdigest()


def test_a_seeded_replay_equals_the_unbatched_worker(tmp_path: Path) -> None:
    # Golden values recorded from the worker before its writes were batched (one
    # transaction per statement group); default limits, so the sizer and the pre-trade
    # cuts are exercised across two symbols.
    engine = _engine(tmp_path / "golden.db", SYMBOLS)
    first = _worker(engine, SYMBOLS, RiskLimits()).run(steps=40)
    second = _worker(engine, SYMBOLS, RiskLimits()).run()  # a restart resumes at the cursor
    book = _ledger(engine)
    engine.dispose()
    totals = {
        k: first.as_dict()[k] + second.as_dict()[k]
        for k in ("cycles", "orders", "fills", "rejected", "sized_within_limits")
    }
    assert totals == GOLDEN["totals"]
    assert len(book["orders"]) == GOLDEN["orders"]
    assert len(book["fills"]) == GOLDEN["fills"]
    assert len(book["decisions"]) == GOLDEN["decisions"]
    assert book["equity"][-1][1] == pytest.approx(GOLDEN["final_equity"], abs=1e-6)
    assert second.final_equity == pytest.approx(GOLDEN["final_equity"], abs=1e-6)
    assert _digest(book) == GOLDEN["digest"]


GOLDEN: dict[str, Any] = {
    "totals": {"cycles": 100, "orders": 77, "fills": 77, "rejected": 0, "sized_within_limits": 169},
    "orders": 77,
    "fills": 77,
    "decisions": 200,
    "final_equity": 98691.993448,
    "digest": "f80f10651f69bdb94d8a2c8d13885e732f0f2a102b7ea02df347343368d75cf7",
}


if __name__ == "__main__":  # prints the golden values of the code in this tree
    import sys
    import tempfile

    path = Path(tempfile.mkdtemp()) / "golden.db"
    eng = _engine(path, SYMBOLS)
    a = _worker(eng, SYMBOLS, RiskLimits()).run(steps=40)
    b = _worker(eng, SYMBOLS, RiskLimits()).run()
    ledger = _ledger(eng)
    out = {
        "totals": {
            k: a.as_dict()[k] + b.as_dict()[k]
            for k in ("cycles", "orders", "fills", "rejected", "sized_within_limits")
        },
        "orders": len(ledger["orders"]),
        "fills": len(ledger["fills"]),
        "decisions": len(ledger["decisions"]),
        "final_equity": ledger["equity"][-1][1],
        "digest": _digest(ledger),
    }
    json.dump(out, sys.stdout, indent=1)
    print()
    Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pw/golden_ledger.json").write_text(
        json.dumps(ledger)
    )


MAX_STATEMENTS_PER_CYCLE = 18
"""A cycle that fills one order and places another; a quiet cycle sends 11."""


def test_a_replay_cycle_sends_a_bounded_number_of_sql_statements(tmp_path: Path) -> None:
    # Counted with SQLAlchemy's before_cursor_execute from one cycle's end to the next
    # (control poll, fills, decisions, orders, close, heartbeat, lease); before the
    # batching a one-symbol cycle sent about 40 in about 19 transactions.
    engine = _engine(tmp_path / "count.db", ["SP500"])
    seen: list[str] = []
    per_cycle: list[list[str]] = []
    commits = [0]
    per_cycle_commits: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0])

    @event.listens_for(engine, "commit")
    def _commit(_conn: Any) -> None:
        commits[0] += 1

    def on_cycle(_report: Any) -> None:
        per_cycle.append(list(seen))
        per_cycle_commits.append(commits[0])
        seen.clear()
        commits[0] = 0

    worker = PaperWorker(
        engine=engine,
        session_name="golden",
        prices=_frames(["SP500"]),
        broker=make_broker(engine, _config(["SP500"])),
        on_cycle=on_cycle,
        sleep=lambda _s: None,
    )
    summary = worker.run(steps=60)
    engine.dispose()
    assert summary.cycles == 60 and summary.orders >= 5  # it trades: fills are counted too
    cycles, commits_after_first = per_cycle[1:], per_cycle_commits[1:]  # the first: start-up
    assert max(len(c) for c in cycles) <= MAX_STATEMENTS_PER_CYCLE
    assert sorted(len(c) for c in cycles)[len(cycles) // 2] <= 11
    assert all(n == 1 for n in commits_after_first)  # one transaction per cycle
