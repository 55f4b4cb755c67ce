"""Saved-run service on a real SQLite database: save, list, reopen, and nothing half-written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from app.services import runs
from app.services.db import get_engine


def _equity(seed: int, n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2021-01-04", periods=n, name="date")
    returns = rng.normal(0.0004, 0.01, n)
    return pd.DataFrame(
        {"returns": returns, "equity": 10_000 * np.cumprod(1 + returns)}, index=index
    )


def _rows() -> list[tuple]:
    with get_engine().connect() as conn:
        return list(conn.execute(text("SELECT id, kind, title, status FROM runs ORDER BY id")))


def test_save_list_reopen_returns_the_same_numbers(isolated_workbench: Path) -> None:
    frame = _equity(7)
    spec = {"strategy": "ma_crossover", "fast": 20, "slow": 100, "fees": 0.0005}
    metrics = {"sharpe": 0.8125, "max_drawdown": -0.1875, "trades": 12}
    run_id = runs.save_run(
        kind="backtest", title="ma 20/100", spec=spec, metrics=metrics, frames={"curve": frame}
    )

    (listed,) = runs.list_runs()
    assert (listed.id, listed.kind, listed.title, listed.status) == (
        run_id,
        "backtest",
        "ma 20/100",
        "done",
    )
    assert listed.spec == spec and listed.metrics == metrics
    # The artifact folder is the run's own, under the configured runtime folder.
    assert Path(listed.artifact_path or "") == isolated_workbench / "runs" / str(run_id)
    assert runs.run_folder(run_id) == isolated_workbench / "runs" / str(run_id)

    reopened = runs.get_run(run_id)
    assert reopened == listed
    back = runs.load_frame(reopened, "curve")
    pd.testing.assert_frame_equal(back, frame, check_freq=False)
    # Independent check of the stored numbers: the final equity is the compounded returns.
    assert back["equity"].iloc[-1] == pytest.approx(10_000 * np.prod(1 + frame["returns"]))
    # What the service reports is what the database holds.
    assert _rows() == [(run_id, "backtest", "ma 20/100", "done")]


def test_list_is_newest_first_filters_by_kind_and_limits() -> None:
    ids = [
        runs.save_run(kind=kind, title=f"t{i}", spec={"i": i}, metrics={"i": i}, frames={})
        for i, kind in enumerate(["backtest", "sweep", "backtest", "abtest"])
    ]
    assert [r.id for r in runs.list_runs()] == ids[::-1]
    assert [r.id for r in runs.list_runs("backtest")] == [ids[2], ids[0]]
    assert [r.metrics["i"] for r in runs.list_runs(limit=2)] == [3, 2]
    assert runs.list_runs("walkforward") == []


def test_same_title_twice_is_two_runs_with_their_own_frames() -> None:
    a = runs.save_run(kind="backtest", title="same", spec={}, metrics={}, frames={"f": _equity(1)})
    b = runs.save_run(kind="backtest", title="same", spec={}, metrics={}, frames={"f": _equity(2)})
    assert a != b
    first = runs.load_frame(runs.get_run(a), "f")
    second = runs.load_frame(runs.get_run(b), "f")
    pd.testing.assert_frame_equal(first, _equity(1), check_freq=False)
    pd.testing.assert_frame_equal(second, _equity(2), check_freq=False)


def test_a_frame_that_cannot_be_written_leaves_no_row_and_no_folder(
    isolated_workbench: Path,
) -> None:
    unwritable = pd.DataFrame({"x": [object(), object()]})  # parquet cannot store objects
    with pytest.raises(ValueError, match="Conversion failed for column x"):
        runs.save_run(
            kind="backtest",
            title="broken",
            spec={},
            metrics={},
            frames={"good": _equity(3), "bad": unwritable},
        )
    assert runs.list_runs() == [] and _rows() == []
    assert list((isolated_workbench / "runs").iterdir()) == []  # no staging folder left


def test_a_failure_inside_the_transaction_rolls_back_the_row_and_removes_the_folder(
    isolated_workbench: Path,
) -> None:
    # Metrics that JSON cannot hold fail when the finished row is flushed: after the frames
    # were moved to the run's folder, so the folder must go with the rolled-back row.
    with pytest.raises((TypeError, StatementError), match="not JSON serializable"):
        runs.save_run(
            kind="backtest", title="t", spec={}, metrics={"x": object()}, frames={"f": _equity(5)}
        )
    assert runs.list_runs() == [] and _rows() == []
    assert list((isolated_workbench / "runs").iterdir()) == []
    # The next run works and owns its folder.
    run_id = runs.save_run(
        kind="backtest", title="t", spec={}, metrics={}, frames={"f": _equity(5)}
    )
    assert sorted(p.name for p in (isolated_workbench / "runs").iterdir()) == [str(run_id)]


def test_unknown_id_and_missing_artifact_are_lookup_errors(isolated_workbench: Path) -> None:
    with pytest.raises(LookupError, match="no saved run with id 42"):
        runs.get_run(42)
    run_id = runs.save_run(
        kind="backtest", title="t", spec={}, metrics={}, frames={"f": _equity(4)}
    )
    run = runs.get_run(run_id)
    with pytest.raises(LookupError, match=rf"run {run_id}: artifact .*/nope\.parquet is missing"):
        runs.load_frame(run, "nope")
    (isolated_workbench / "runs" / str(run_id) / "f.parquet").unlink()
    with pytest.raises(LookupError, match=r"/f\.parquet is missing"):
        runs.load_frame(run, "f")
