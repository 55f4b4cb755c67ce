"""``workbench sweep`` as a real subprocess: the reference grid, and bad grids refused
before any work with exit code 2."""

from __future__ import annotations

from pathlib import Path

from app.services import runs as run_store
from tests.app.test_cli_backtest import ok_json, workbench


def test_sweep_reference_grid_json(isolated_workbench: Path) -> None:
    out = workbench(
        "sweep",
        "--grid",
        "fast=5:103:2",
        "--grid",
        "slow=20:412:8",
        "--json",
        var=isolated_workbench,
    )
    payload = ok_json(out)
    assert payload["combinations"] == 2258
    assert isinstance(payload["seconds"], float)  # wall time: reported, never asserted on
    best = payload["best"]
    assert best["fast"] < best["slow"]
    assert 5 <= best["fast"] <= 103 and 20 <= best["slow"] <= 412
    assert payload["metric"] == "sharpe"
    top = payload["top"]
    assert len(top) == 10 and top[0]["sharpe"] == best["sharpe"]
    assert all(row["fast"] < row["slow"] for row in top)
    assert [row["sharpe"] for row in top] == sorted((row["sharpe"] for row in top), reverse=True)
    # The same run is stored, read here in-process from the subprocess's database.
    (saved,) = run_store.list_runs()
    assert saved.id == payload["run_id"] and saved.kind == "sweep"
    assert saved.metrics["combinations"] == 2258
    assert saved.metrics["best"]["sharpe"] == best["sharpe"]


def test_bad_grid_exits_2(isolated_workbench: Path) -> None:
    out = workbench(
        "sweep", "--grid", "fast=abc", "--grid", "slow=20:40:10", var=isolated_workbench
    )
    assert out.returncode == 2
    assert "fast=abc" in out.stderr and "start:stop:step" in out.stderr
    assert run_store.list_runs() == []


def test_huge_sweep_axis_exits_2_naming_the_grid_flag(isolated_workbench: Path) -> None:
    # Used to try to allocate 7 PiB (MemoryError traceback).
    out = workbench(
        "sweep", "--grid", "fast=1:1e15:1", "--grid", "slow=10:20:5", var=isolated_workbench
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "--grid 'fast=1:1e15:1'" in out.stderr and "more than the cap of 1,000,000" in out.stderr
    assert run_store.list_runs() == []


def test_all_symbols_sweep_json_and_refusal_beside_symbol(isolated_workbench: Path) -> None:
    grid = ["--grid", "fast=10:50:10", "--grid", "slow=20:100:20"]
    out = workbench("sweep", *grid, "--all-symbols", "--json", var=isolated_workbench)
    payload = ok_json(out)
    universe = payload["universe"]
    assert universe["symbols"] == ["AAPL", "GOOG", "IBM", "MSFT", "NASDAQ", "SP500"]
    assert payload["combinations"] == 19 * 6 == universe["trials"] == universe["dsr"]["trials"]
    assert [row["symbol"] for row in universe["best_by_symbol"]] == universe["symbols"]
    assert 0.0 <= universe["dsr"]["dsr"] <= 1.0
    (saved,) = run_store.list_runs()
    assert saved.id == payload["run_id"] and saved.spec["all_symbols"] is True

    refused = workbench("sweep", *grid, "--all-symbols", "--symbol", "IBM", var=isolated_workbench)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "give either --symbol IBM or --all-symbols, not both" in refused.stderr
    assert len(run_store.list_runs()) == 1
