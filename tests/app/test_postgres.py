"""The same services on PostgreSQL, by changing only WORKBENCH_DB_URL.

CI starts a throwaway server (scripts/start_test_postgres.sh) and sets
WORKBENCH_TEST_PG_URL; each test gets a fresh database on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pg import fresh_pg_database

ADMIN_URL = os.environ.get("WORKBENCH_TEST_PG_URL", "")
pytestmark = pytest.mark.skipif(
    not ADMIN_URL, reason="no PostgreSQL: CI provides one via WORKBENCH_TEST_PG_URL"
)


@pytest.fixture
def pg_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from core.config import get_settings

    with fresh_pg_database() as url:
        monkeypatch.setenv("WORKBENCH_DB_URL", url)
        get_settings.cache_clear()
        yield url


def test_services_round_trip_on_postgres(pg_url: str) -> None:
    from sqlalchemy import inspect

    from app.operations.backtest import BacktestRequest
    from app.operations.paper import PaperRequest
    from app.operations.registry import PromoteRequest, RegisterRequest
    from app.operations.risk import LimitsChangeRequest
    from app.operations.training import TrainRequest
    from app.services import backtest, data, paper, registry, risk, training
    from app.services.db import get_engine

    engine = get_engine()
    assert engine.dialect.name == "postgresql"
    assert "workbench_schema_version" in inspect(engine).get_table_names()
    imported = data.import_upload("pgfund", "f.csv", b"date,close\n2021-01-04,1\n2021-01-05,1.1\n")
    assert data.load_prices("uploads", "pgfund")["close"].tolist() == [1.0, 1.1]
    assert imported.rows == 2
    bt = backtest.run_backtest(
        BacktestRequest(
            dataset="ohlcv_daily",
            symbol="SP500",
            strategy="ma_crossover",
            params={"fast": 20, "slow": 100},
        )
    )
    assert backtest.reopen_backtest(bt.run_id).metrics["sharpe"] == pytest.approx(
        bt.metrics["sharpe"]
    )
    trained = training.train(TrainRequest(kind="logistic", tune=True, n_trials=2))
    version = registry.register(RegisterRequest(run_id=trained.run_id, name="pg-model"))
    assert registry.promote(PromoteRequest(version_id=version.id)).stage == "champion"
    risk.set_limits(LimitsChangeRequest(values={"max_weight_per_asset": 0.5}, reason="pg test"))
    assert risk.current_limits()[0] == 1
    summary = paper.run_worker(PaperRequest(), steps=20)
    assert summary["cycles"] == 20 and summary["orders"] == summary["fills"] + len(
        paper.monitor().open_orders
    )
