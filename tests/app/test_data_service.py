"""Data services against a real SQLite database: round trip and all-or-nothing imports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect

from app.services import data as data_service
from app.services.db import get_engine
from core.store.db import make_engine, session_scope, upgrade
from core.store.repositories import RunRepository

GOOD = (
    b"date,open,high,low,close,volume\n"
    b"2021-01-04,10,11,9,10.5,1000\n"
    b"2021-01-05,10.5,12,10,11.5,1500\n"
)


def test_migrations_create_tables_and_are_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"workbench_schema_version", "imported_datasets", "runs"} <= tables


def test_run_record_round_trip() -> None:
    engine = get_engine()
    with session_scope(engine) as session:
        run_id = RunRepository(session).start(kind="backtest", spec={"fast": 10, "slow": 50}).id
    with session_scope(engine) as session:
        RunRepository(session).finish(run_id, metrics={"sharpe": 1.25, "trades": 7})
    with session_scope(engine) as session:
        run = RunRepository(session).get(run_id)
        assert run is not None
        assert (run.kind, run.spec, run.metrics, run.status) == (
            "backtest",
            {"fast": 10, "slow": 50},
            {"sharpe": 1.25, "trades": 7},
            "done",
        )
        assert run.finished_at is not None and run.finished_at >= run.created_at


def test_failed_transaction_leaves_nothing() -> None:
    engine = get_engine()
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        RunRepository(session).start(kind="sweep", spec={})
        raise RuntimeError("crash mid-write")
    with session_scope(engine) as session:
        assert RunRepository(session).list() == []


def test_import_then_load_round_trip(isolated_workbench: Path) -> None:
    result = data_service.import_upload("my_fund", "fund.csv", GOOD)
    assert (result.rows, result.columns) == (2, ("open", "high", "low", "close", "volume"))
    assert data_service.symbols_of("uploads") == ["my_fund"]
    frame = data_service.load_prices("uploads", "my_fund")
    assert frame["close"].tolist() == [10.5, 11.5]
    assert frame.index[0] == pd.Timestamp("2021-01-04")
    assert (isolated_workbench / "datasets" / "my_fund.parquet").is_file()


def test_invalid_upload_stores_nothing(isolated_workbench: Path) -> None:
    with pytest.raises(data_service.DataValidationError):
        data_service.import_upload("bad", "bad.csv", b"date,close\n2021-01-04,-3\n")
    assert data_service.symbols_of("uploads") == []
    folder = isolated_workbench / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_duplicate_name_is_rejected_and_original_kept(isolated_workbench: Path) -> None:
    data_service.import_upload("dup", "a.csv", GOOD)
    other = b"date,close\n2022-01-03,99\n"
    with pytest.raises(data_service.DataValidationError, match="already exists"):
        data_service.import_upload("dup", "b.csv", other)
    assert data_service.load_prices("uploads", "dup")["close"].tolist() == [10.5, 11.5]
    assert sorted(p.name for p in (isolated_workbench / "datasets").iterdir()) == ["dup.parquet"]


def test_bad_dataset_name_is_rejected() -> None:
    with pytest.raises(data_service.DataValidationError, match="not allowed"):
        data_service.import_upload("../etc", "a.csv", GOOD)


def test_list_datasets_has_at_least_25_symbols() -> None:
    infos = {info.name: info for info in data_service.list_datasets()}
    assert {"ohlcv_daily", "sp500_closes"} <= set(infos)
    assert len(infos["ohlcv_daily"].symbols) + len(infos["sp500_closes"].symbols) >= 25


def test_date_clipping_and_empty_range() -> None:
    frame = data_service.load_prices(
        "ohlcv_daily",
        "SP500",
        start=pd.Timestamp("2008-01-01").date(),
        end=pd.Timestamp("2008-12-31").date(),
    )
    assert len(frame) == 253
    with pytest.raises(data_service.DataSourceError, match="widen the range"):
        data_service.load_prices(
            "ohlcv_daily", "SP500", start=pd.Timestamp("2030-01-01").date(), end=None
        )


def test_summary_stats_match_independent_numbers() -> None:
    frame = pd.DataFrame(
        {"close": [100.0, 110.0, 99.0, 120.0]}, index=pd.bdate_range("2021-01-04", periods=4)
    )
    stats = data_service.summary_stats(frame)
    assert stats["total_return"] == pytest.approx(0.2)
    assert stats["max_drawdown"] == pytest.approx(99 / 110 - 1)
    assert stats["best_day"] == pytest.approx(120 / 99 - 1)
    assert stats["worst_day"] == pytest.approx(99 / 110 - 1)


def test_processes_starting_together_on_a_fresh_database_all_succeed(
    isolated_workbench: Path,
) -> None:
    import os
    import subprocess
    import sys

    code = "from app.services.db import get_engine; get_engine(); print('ok')"
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in results]
    engine = make_engine(f"sqlite:///{isolated_workbench / 'workbench.db'}")
    with engine.connect() as conn:
        from alembic.script import ScriptDirectory
        from sqlalchemy import text

        from core.store.db import alembic_config

        head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
        current = conn.execute(text("SELECT version_num FROM workbench_schema_version")).scalar()
        assert current == head
