"""`workbench train` (generated from TrainRequest) and `workbench lookahead-check`, run as
real subprocesses, each with its own WORKBENCH_VAR_DIR.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.operations.training import TrainRequest
from app.services import runs as run_store
from tests.app.test_cli import workbench


def test_train_flags_come_from_the_request_model(isolated_workbench: Path) -> None:
    out = workbench(
        "train",
        "--model",
        "logistic",
        "--feature",
        "ret_1",
        "--feature",
        "rsi_14",
        "--param",
        "C=0.1",
        "--horizon",
        "3",
        "--fees",
        "0.001",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["model"] == "logistic" and payload["features"] == 2
    assert payload["params"]["C"] == 0.1 and "registered" not in payload
    run = run_store.get_run(payload["run_id"])
    assert run.spec["resolved_features"] == ["ret_1", "rsi_14"]
    assert (run.spec["horizon"], run.spec["fees"]) == (3, 0.001)
    assert run.spec["slippage"] == TrainRequest.model_fields["slippage"].default
    assert run.metrics["roc_auc"] == pytest.approx(payload["roc_auc"])


def test_train_bad_flags_exit_2_naming_the_flag(isolated_workbench: Path) -> None:
    out = workbench("train", "--horizon", "61", var=isolated_workbench)
    assert out.returncode == 2 and "--horizon" in out.stderr
    out = workbench("train", "--model", "logistic", "--param", "depth=3", var=isolated_workbench)
    assert out.returncode == 2 and "Logistic has no parameters ['depth']" in out.stderr
    out = workbench("train", "--feature", "no_such", var=isolated_workbench)
    assert (
        out.returncode == 2
        and "Unknown features no_such; see the feature list (--feature)" in out.stderr
    )
    assert run_store.list_runs() == []


def test_lookahead_check_flags_the_leaky_demo(isolated_workbench: Path) -> None:
    out = workbench("lookahead-check", "--include-leaky-demo", "--json", var=isolated_workbench)
    assert out.returncode == 1, out.stderr
    payload = json.loads(out.stdout)
    assert payload["leaky"] is True
    assert payload["offending_columns"] == ["leaky_next_close"]
    assert "leaky_next_close" in payload["message"]


def test_lookahead_check_clean_exits_0(isolated_workbench: Path) -> None:
    out = workbench("lookahead-check", var=isolated_workbench)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("no look-ahead found over")


def test_lookahead_check_strategy_flags_come_from_the_request(isolated_workbench: Path) -> None:
    out = workbench(
        "lookahead-check",
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=10",
        "--cuts",
        "5",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["leaky"] is False and payload["offending_columns"] == []
    assert payload["cuts"] == 5
    out = workbench(
        "lookahead-check",
        "--strategy",
        "ma_crossover",
        "--param",
        "fast=0",
        var=isolated_workbench,
    )
    assert out.returncode == 2 and "--param fast=0" in out.stderr
    out = workbench("lookahead-check", "--cuts", "501", var=isolated_workbench)
    assert out.returncode == 2 and "--cuts" in out.stderr
