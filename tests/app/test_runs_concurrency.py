"""Sixteen processes save runs at one moment (eight with one title, eight with their own):
every run is stored once, with its own frames, and nothing is left half-written (SQLite,
and PostgreSQL when WORKBENCH_TEST_PG_URL is set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from tests.app.concurrency_helpers import run_together
from tests.app.test_paper_concurrency import db_url  # noqa: F401  (fixture)

N = 16
# Imported once in the parent, before the fork.
PRELOAD = ("app.services.runs", "app.services.db")
pytestmark = pytest.mark.timeout(1800)  # 16 fresh interpreters on a busy machine
ROWS = 5_000


def _frame(index: int) -> pd.DataFrame:
    rng = np.random.default_rng(index)
    return pd.DataFrame({"value": rng.normal(size=ROWS), "writer": index})


def prepare_save(_unused: int) -> Any:
    from app.services import runs
    from app.services.db import get_engine

    get_engine()
    return runs


def save(index: int, runs: Any, _unused: int) -> tuple[str, Any]:
    title = "same title" if index % 2 == 0 else f"run {index}"
    run_id = runs.save_run(
        kind="backtest",
        title=title,
        spec={"writer": index},
        metrics={"sharpe": index / 10},
        frames={"equity": _frame(index), "trades": _frame(100 + index)},
    )
    return "saved", run_id


def test_sixteen_concurrent_saves(db_url: str, isolated_workbench: Path) -> None:  # noqa: F811
    env = {"WORKBENCH_VAR_DIR": str(isolated_workbench), "WORKBENCH_DB_URL": db_url}
    results = run_together("tests.app.test_runs_concurrency:save", N, env, 0)
    errors = [r for r in results if r[1] != "saved"]
    assert not errors, errors[0][2]
    ids = {index: run_id for index, _, run_id in results}
    assert len(set(ids.values())) == N

    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, title, status, spec, metrics, artifact_path FROM runs ORDER BY id")
        ).fetchall()
    engine.dispose()
    assert len(rows) == N
    by_id = {r[0]: r for r in rows}
    for index, run_id in ids.items():
        _, title, status, spec, metrics, artifact = by_id[run_id]
        spec = spec if isinstance(spec, dict) else json.loads(spec)
        metrics = metrics if isinstance(metrics, dict) else json.loads(metrics)
        assert status == "done" and spec == {"writer": index}
        assert metrics == {"sharpe": index / 10}
        assert title == ("same title" if index % 2 == 0 else f"run {index}")
        folder = Path(artifact)
        assert folder == isolated_workbench / "runs" / str(run_id)
        pd.testing.assert_frame_equal(pd.read_parquet(folder / "equity.parquet"), _frame(index))
        pd.testing.assert_frame_equal(
            pd.read_parquet(folder / "trades.parquet"), _frame(100 + index)
        )
    entries = sorted(p.name for p in (isolated_workbench / "runs").iterdir())
    assert entries == sorted(str(i) for i in ids.values())  # no staging folder left behind
