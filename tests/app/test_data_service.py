"""Data services against a real SQLite database: round trip and all-or-nothing imports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect

from app.services import data as data_service
from app.services.db import get_engine
from core.data.stored import NAME_PATTERN
from core.data.summary import summary_stats
from core.data.validation import read_format
from core.store.db import make_engine, session_scope, upgrade
from core.store.runs import RunRepository

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
    with pytest.raises(data_service.DataValidationError, match=r"name taken.*already exists"):
        data_service.import_upload("dup", "b.csv", other)
    assert data_service.load_prices("uploads", "dup")["close"].tolist() == [10.5, 11.5]
    assert sorted(p.name for p in (isolated_workbench / "datasets").iterdir()) == ["dup.parquet"]


def test_bad_dataset_name_is_rejected() -> None:
    with pytest.raises(data_service.DataValidationError, match="not allowed"):
        data_service.import_upload("../etc", "a.csv", GOOD)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("fund\n", "whitespace"),  # the old check accepted it: `$` matches before a newline
        (" fund", "whitespace"),
        ("fund ", "whitespace"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("fu\x00nd", "control character"),
        ("fu\tnd", "control character"),
        ("", "empty"),
        ("x" * 65, "65 characters"),
        ("-fund", "outside the allowed set"),
        ("fünd", "outside the allowed set"),
    ],
)
def test_names_outside_the_pattern_are_refused_with_the_pattern(
    isolated_workbench: Path, name: str, why: str
) -> None:
    with pytest.raises(data_service.DataValidationError) as info:
        data_service.import_upload(name, "a.csv", GOOD)
    (d,) = info.value.defects
    assert d.code == "bad_name" and why in d.message and NAME_PATTERN in d.message
    folder = isolated_workbench / "datasets"
    assert not folder.exists() or list(folder.iterdir()) == []
    assert data_service.symbols_of("uploads") == []


def test_declared_format_is_used_and_recorded(isolated_workbench: Path) -> None:
    fmt = read_format(date_format="%d/%m/%Y", decimal=",")
    payload = b"date;close\n04/01/2021;100,13\n05/01/2021;101,5\n"
    with pytest.raises(data_service.DataValidationError, match="--date-format"):
        data_service.import_upload("eu", "eu.csv", payload)
    result = data_service.import_upload("eu", "eu.csv", payload, fmt)
    assert (result.start.isoformat(), result.end.isoformat()) == ("2021-01-04", "2021-01-05")
    assert data_service.load_prices("uploads", "eu")["close"].tolist() == [100.13, 101.5]
    from core.store.repositories import DatasetRepository

    with session_scope(get_engine()) as session:
        record = DatasetRepository(session).get("eu")
        assert record is not None and record.read_format is not None
        assert record.read_format["date_format"] == "%d/%m/%Y"
        assert record.read_format["decimal"] == ","


def test_stored_checksum_is_of_the_file(isolated_workbench: Path) -> None:
    import hashlib

    result = data_service.import_upload("sum", "s.csv", GOOD)
    stored = (isolated_workbench / "datasets" / "sum.parquet").read_bytes()
    assert result.file_sha256 == hashlib.sha256(stored).hexdigest()


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "garbage", "delete"])
def test_corrupted_upload_gives_a_clear_error_not_a_traceback(
    isolated_workbench: Path, damage: str
) -> None:
    data_service.import_upload("fragile", "f.csv", GOOD)
    path = isolated_workbench / "datasets" / "fragile.parquet"
    blob = bytearray(path.read_bytes())
    if damage == "flip_byte":
        blob[len(blob) // 2] ^= 0xFF
        path.write_bytes(bytes(blob))
    elif damage == "truncate":
        path.write_bytes(bytes(blob[: len(blob) // 3]))
    elif damage == "garbage":
        path.write_bytes(b"not parquet at all")
    else:
        path.unlink()
    with pytest.raises(data_service.DataSourceError, match="uploads/fragile") as info:
        data_service.load_prices("uploads", "fragile")
    assert "re-import" in str(info.value)


def test_legacy_row_without_checksum_still_refuses_an_unreadable_file(
    isolated_workbench: Path,
) -> None:
    from core.store.repositories import DatasetRepository

    data_service.import_upload("old", "o.csv", GOOD)
    with session_scope(get_engine()) as session:
        record = DatasetRepository(session).get("old")
        assert record is not None
        record.file_sha256 = None  # as imported before revision 0005
    (isolated_workbench / "datasets" / "old.parquet").write_bytes(b"PAR1 broken")
    with pytest.raises(data_service.DataSourceError, match="not readable Parquet"):
        data_service.load_prices("uploads", "old")


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
    stats = summary_stats(frame)
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

        heads = set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
        rows = conn.execute(text("SELECT version_num FROM workbench_schema_version"))
        assert {row[0] for row in rows} == heads


# ------------------------------------------------------------------ the data CLI
def _cli(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    from tests.cli_helpers import run_cli

    return run_cli(*args, var=var, timeout=180)


def test_cli_import_with_declared_format(tmp_path: Path, isolated_workbench: Path) -> None:
    import json

    f = tmp_path / "eu.csv"
    f.write_bytes(b"date;close\n04/01/2021;100,13\n05/01/2021;101,5\n")
    refused = _cli("data", "validate", str(f), "--json", var=isolated_workbench)
    assert refused.returncode == 2
    assert {d["code"] for d in json.loads(refused.stdout)["defects"]} == {
        "ambiguous_dates",
        "ambiguous_number_format",
    }
    out = _cli(
        "data", "import", str(f), "--name", "eu", "--date-format", "%d/%m/%Y", "--decimal", ",",
        "--json", var=isolated_workbench,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    assert (payload["start"], payload["end"], payload["rows"]) == ("2021-01-04", "2021-01-05", 2)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--date-format", "dd/mm/yyyy"),
        ("--decimal", ";"),
        ("--thousands", "x"),
        ("--delimiter", "::"),
        ("--timezone", "Nowhere/City"),
    ],
)
def test_cli_bad_format_flag_exits_2_naming_it(
    tmp_path: Path, isolated_workbench: Path, flag: str, value: str
) -> None:
    f = tmp_path / "ok.csv"
    f.write_bytes(b"date,close\n2021-01-04,1\n")
    out = _cli("data", "import", str(f), "--name", "ok", flag, value, var=isolated_workbench)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{flag}:" in out.stderr
    assert not (isolated_workbench / "datasets").exists()


def test_cli_name_with_trailing_newline_creates_nothing(
    tmp_path: Path, isolated_workbench: Path
) -> None:
    f = tmp_path / "ok.csv"
    f.write_bytes(b"date,close\n2021-01-04,1\n")
    out = _cli("data", "import", str(f), "--name", "fund\n", var=isolated_workbench)
    assert out.returncode == 2 and "bad_name" in out.stderr and "Traceback" not in out.stderr
    assert not (isolated_workbench / "datasets").exists()
