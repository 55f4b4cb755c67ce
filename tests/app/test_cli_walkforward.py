"""`workbench walkforward`, run as a real subprocess with its own WORKBENCH_VAR_DIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.services import runs as run_store
from tests.app.test_cli import workbench
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)


def test_walkforward_rule_json(isolated_workbench: Path) -> None:
    out = workbench(
        "walkforward",
        "--strategy",
        "ma_crossover",
        "--grid",
        "fast=5:50:5",
        "--grid",
        "slow=20:200:20",
        "--folds",
        "3",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"folds", "oos_sharpe", "is_sharpe", "deflated_sharpe", "pbo", "trials"} <= set(payload)
    assert len(payload["folds"]) == 3
    assert payload["trials"] == 90  # fast<slow pairs of 10 x 10 values, counted by hand
    starts = [f["test_start"] for f in payload["folds"]]
    ends = [f["test_end"] for f in payload["folds"]]
    assert all(e < s for e, s in zip(ends, starts[1:], strict=False))
    run = run_store.get_run(payload["run_id"])
    assert run.kind == "walkforward"
    assert run.metrics["oos_sharpe"] == pytest.approx(payload["oos_sharpe"])


def test_walkforward_strategy_and_model_is_bad_input(isolated_workbench: Path) -> None:
    out = workbench(
        "walkforward",
        "--strategy",
        "ma_crossover",
        "--grid",
        "fast=5:50:5",
        "--model",
        "logistic",
        var=isolated_workbench,
    )
    assert out.returncode == 2
    assert "error:" in out.stderr and "not both" in out.stderr
    assert "Traceback" not in out.stderr
    assert run_store.list_runs() == []


@pytest.mark.usefixtures("dask_client")  # the in-process service runs its folds there
def test_generated_flags_reach_the_request_and_match_the_service(
    isolated_workbench: Path, tmp_path: Path
) -> None:
    """--feature, --horizon, --fees and --out (new generated flags) give the service's numbers."""
    from typer.testing import CliRunner

    from app.cli import app
    from app.operations.walkforward import WalkForwardRequest, walkforward_payload
    from app.services.walkforward import run_walkforward

    report = tmp_path / "wf.html"
    args = ["walkforward", "--model", "logistic", "--feature", "ret_1", "--feature", "vol_21"]
    args += ["--folds", "2", "--horizon", "3", "--fees", "0.001", "--out", str(report), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    run = run_store.get_run(payload["run_id"])
    assert run.spec["features"] == ["ret_1", "vol_21"]
    assert run.spec["horizon"] == 3 and run.spec["fees"] == 0.001
    assert run.spec["slippage"] == WalkForwardRequest.model_fields["slippage"].default
    request = WalkForwardRequest(
        model="logistic", features=["ret_1", "vol_21"], folds=2, horizon=3, fees=0.001
    )
    expected = walkforward_payload(run_walkforward(request, save=False))
    assert payload["oos_sharpe"] == pytest.approx(expected["oos_sharpe"], rel=1e-12)
    assert payload["deflated_sharpe"] == pytest.approx(expected["deflated_sharpe"], rel=1e-12)
    assert [f["oos_auc"] for f in payload["folds"]] == [f["oos_auc"] for f in expected["folds"]]
    assert payload["report"] == str(report)
    assert "Deflated Sharpe ratio" in report.read_text(encoding="utf-8")


def test_overlapping_test_windows_are_refused_naming_the_flags(isolated_workbench: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import app

    args = ["walkforward", "--model", "logistic", "--test-bars", "250", "--step-bars", "100"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    shown = " ".join(result.output.split())
    assert "Step (bars) 100 is below Test bars 250: choose 250 or more" in shown, shown
    assert shown.rstrip().endswith("(--step-bars)."), shown
    assert "Traceback" not in result.output
    assert run_store.list_runs() == []
