"""Sixteen paper workers started together on one session: one runs, the rest are refused
with a clear message and write nothing; the ledger equals a lone worker's (SQLite and
PostgreSQL when WORKBENCH_TEST_PG_URL is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.app.concurrency_helpers import run_together
from tests.pg import fresh_pg_database

N = 16
# Imported once in the parent, before the fork.
PRELOAD = ("app.services.paper", "app.services.db", "core.paper.worker", "core.pipeline")
pytestmark = pytest.mark.timeout(1800)  # 16 fresh interpreters on a busy machine
STEPS = 25
PG_ADMIN = os.environ.get("WORKBENCH_TEST_PG_URL", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, isolated_workbench: Path) -> Iterator[str]:
    """An empty database: SQLite in the test's folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{isolated_workbench / 'workbench.db'}"
        return
    with fresh_pg_database() as url:
        yield url


# ------------------------------------------------------------------ child side
def prepare_start_worker(_steps: int) -> Any:
    from app.services import paper
    from app.services.db import get_engine

    get_engine()  # migrated before the barrier
    return paper


def start_worker(_index: int, paper: Any, steps: int) -> tuple[str, Any]:
    from app.operations.paper import PaperRequest
    from core.paper.lease import LeaseHeldError

    try:
        return "ran", paper.run_worker(PaperRequest(symbols=["SP500"]), steps=steps)
    except LeaseHeldError as exc:
        return "refused", str(exc)


# ------------------------------------------------------------------ parent side
def _norm(value: Any) -> Any:
    """Numbers compared across SQLite and PostgreSQL to 1e-6."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return round(float(value), 6)
    return value


def ledger(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:

            def rows(sql: str) -> list[tuple]:
                return [tuple(map(_norm, r)) for r in conn.execute(text(sql))]

            return {
                "orders": rows(
                    "SELECT client_order_id, side, qty, status, filled_qty FROM orders"
                    " ORDER BY client_order_id"
                ),
                "fills": rows("SELECT qty, price, fee FROM fills ORDER BY id"),
                "positions": rows("SELECT symbol, qty FROM positions ORDER BY symbol"),
                "equity": rows("SELECT bar, equity, cash FROM equity_snapshots ORDER BY bar"),
                "decisions": rows(
                    "SELECT session_name, bar, symbol FROM decisions ORDER BY bar, symbol"
                ),
                "sessions": rows("SELECT name, cursor FROM paper_sessions"),
                "accounts": rows("SELECT broker, name FROM accounts"),
                "leases": rows("SELECT session_name FROM paper_leases"),
            }
    finally:
        engine.dispose()


def test_sixteen_workers_on_one_session(
    db_url: str, isolated_workbench: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.db import _engine_for
    from core.config import get_settings

    env = {"WORKBENCH_VAR_DIR": str(isolated_workbench), "WORKBENCH_DB_URL": db_url}
    results = run_together("tests.app.test_paper_concurrency:start_worker", N, env, STEPS)

    errors = [r for r in results if r[1] == "error"]
    assert not errors, errors[0][2]
    ran = [r[2] for r in results if r[1] == "ran"]
    refused = [r[2] for r in results if r[1] == "refused"]
    assert len(ran) + len(refused) == N
    assert len(ran) >= 1 and len(refused) >= 1
    for message in refused:
        assert "already run by another worker" in message and "nothing was written" in message
    total = sum(s["cycles"] for s in ran)
    assert all(s["state"] == "done-steps" for s in ran)

    book = ledger(db_url)
    assert book["leases"] == []  # every holder released its lease
    assert book["sessions"] == [("default", 1000 + total - 1)]
    assert book["accounts"] == [("sim", "default")]
    bars = [d[1] for d in book["decisions"]]
    assert bars == list(range(1000, 1000 + total))  # each bar decided once, none lost
    assert [e[0] for e in book["equity"]] == bars

    # The same number of bars run by one worker alone gives the same ledger.
    alone = tmp_path / "alone"
    monkeypatch.setenv("WORKBENCH_VAR_DIR", str(alone))
    get_settings.cache_clear()
    _engine_for.cache_clear()
    from app.operations.paper import PaperRequest
    from app.services import paper

    assert paper.run_worker(PaperRequest(symbols=["SP500"]), steps=total)["cycles"] == total
    reference = ledger(f"sqlite:///{alone / 'workbench.db'}")
    for key in ("orders", "fills", "positions", "equity", "decisions"):
        assert book[key] == reference[key], key
