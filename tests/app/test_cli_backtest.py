"""``workbench backtest / portfolio / report / runs`` as real subprocesses.

Each backtest subprocess imports vectorbt (seconds), so the two successful backtests run
once per module in a shared runtime folder; error cases stay cheap because they fail
before any backtest starts.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.operations.backtest import BacktestRequest
from app.services import runs as run_store
from app.services.backtest import run_backtest
from core.backtest.spec import EXECUTION
from tests.app.test_backtest_service import METRIC_KEYS

ROOT = Path(__file__).resolve().parents[2]
BACKTEST = (
    "backtest",
    "--dataset",
    "ohlcv_daily",
    "--symbol",
    "SP500",
    "--strategy",
    "ma_crossover",
    "--param",
    "fast=20",
    "--param",
    "slow=100",
)


def start(*args: str, var: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "WORKBENCH_VAR_DIR": str(var)}
    env.pop("WORKBENCH_DB_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = proc.communicate(timeout=180)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def workbench(*args: str, var: Path) -> subprocess.CompletedProcess[str]:
    return finish(start(*args, var=var))


def ok_json(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def backtests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default-cost and a high-cost backtest, saved in one shared runtime folder."""
    var = tmp_path_factory.mktemp("cli_var")
    default = ok_json(workbench(*BACKTEST, "--json", var=var))
    costly = ok_json(
        workbench(*BACKTEST, "--fees", "0.002", "--slippage", "0.003", "--json", var=var)
    )
    return {"var": var, "default": default, "costly": costly}


def _service_metrics(**costs: float) -> dict[str, float | None]:
    request = BacktestRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        params={"fast": 20, "slow": 100},
        **costs,
    )
    outcome = run_backtest(request, save=False)
    return {k: (None if not math.isfinite(v) else v) for k, v in outcome.metrics.items()}


def test_backtest_json_has_every_metric_and_the_execution(backtests: dict[str, Any]) -> None:
    payload = backtests["default"]
    missing = [k for k in METRIC_KEYS if k not in payload]
    assert missing == []
    assert payload["execution"] == EXECUTION
    assert payload["bars"] == 5031
    assert (payload["fees"], payload["slippage"]) == (0.0005, 0.0005)
    assert isinstance(payload["run_id"], int)
    assert payload["benchmark"]["n_trades"] == 1
    # Internal consistency of what was printed.
    assert payload["final_equity"] == pytest.approx(100_000 * (1 + payload["total_return"]))
    assert 0 < payload["exposure"] < 1 and payload["n_trades"] > 0


def test_backtest_numbers_equal_the_service(backtests: dict[str, Any]) -> None:
    expected = _service_metrics()
    printed = {k: backtests["default"][k] for k in expected}
    assert printed == expected
    expected_costly = _service_metrics(fees=0.002, slippage=0.003)
    assert {k: backtests["costly"][k] for k in expected_costly} == expected_costly


def test_fees_and_slippage_flags_lower_the_result(backtests: dict[str, Any]) -> None:
    default, costly = backtests["default"], backtests["costly"]
    assert (costly["fees"], costly["slippage"]) == (0.002, 0.003)
    assert costly["total_return"] < default["total_return"]
    assert costly["final_equity"] < default["final_equity"]
    assert costly["total_fees"] > default["total_fees"]
    assert costly["benchmark"]["total_return"] < default["benchmark"]["total_return"]
    # Costs change fills, not signals.
    assert costly["n_trades"] == default["n_trades"]
    assert costly["exposure"] == default["exposure"]


def test_report_from_saved_run_and_runs_list(backtests: dict[str, Any], tmp_path: Path) -> None:
    var, run_id = backtests["var"], backtests["default"]["run_id"]
    listed = ok_json(workbench("runs", "--json", var=var))["runs"]
    by_id = {r["id"]: r for r in listed}
    assert len(listed) == 2  # the default and the high-cost backtest
    assert {r["kind"] for r in listed} == {"backtest"}
    assert by_id[run_id]["title"] == "ma_crossover SP500 fast=20 slow=100"
    assert by_id[run_id]["status"] == "done"
    assert by_id[run_id]["metrics"]["sharpe"] == backtests["default"]["sharpe"]
    assert (
        by_id[backtests["costly"]["run_id"]]["metrics"]["total_return"]
        == (backtests["costly"]["total_return"])
    )

    target = tmp_path / "reports" / "sheet.html"
    out = workbench("report", "--run", str(run_id), "--out", str(target), "--json", var=var)
    payload = ok_json(out)
    assert payload["out"] == str(target) and payload["run_id"] == run_id
    html = target.read_text(encoding="utf-8")
    assert payload["bytes"] == len(html) > 10_000
    assert "Benchmark" in html
    assert "ma_crossover on ohlcv_daily/SP500 vs buy-and-hold" in html


def test_fast_not_below_slow_exits_2_and_stores_nothing(isolated_workbench: Path) -> None:
    out = workbench(
        *BACKTEST[:-4], "--param", "fast=100", "--param", "slow=20", var=isolated_workbench
    )
    assert out.returncode == 2
    assert "fast window (100)" in out.stderr and "slow window (20)" in out.stderr
    assert out.stdout == ""
    assert run_store.list_runs() == []


def test_param_without_equals_exits_2_as_json(isolated_workbench: Path) -> None:
    out = workbench("backtest", "--param", "fast", "--json", var=isolated_workbench)
    assert out.returncode == 2
    error = json.loads(out.stdout)["error"]
    assert "'fast'" in error and "name=value" in error


def test_absurd_param_exits_2_at_once_and_stores_nothing(isolated_workbench: Path) -> None:
    # Used to run for 63 s and 586 MB, then save a 0-trade run.
    out = workbench("backtest", "--param", "fast=1e23", "--json", var=isolated_workbench)
    assert out.returncode == 2, out.stdout + out.stderr
    error = json.loads(out.stdout)["error"]
    assert error == "--param fast=1e+23: fast must be an integer in [1, 100000] (bars), got 1e+23"
    assert run_store.list_runs() == []


def test_negative_limit_exits_2_with_its_range(isolated_workbench: Path) -> None:
    out = workbench("runs", "--limit", "-1", var=isolated_workbench)  # used to exit 0
    assert out.returncode == 2
    shown = " ".join(re.sub("[│╭╮╰╯─]", " ", out.stderr).split())  # rich wraps in a box
    assert "Invalid value for '--limit': -1 is out of range; give an integer in [1, 10000]" in shown


def test_portfolio_json_equals_the_service(isolated_workbench: Path) -> None:
    from datetime import date

    from app.operations.backtest import PortfolioRequest
    from app.services.backtest import run_portfolio

    out = workbench(
        "portfolio",
        *("--symbol", "KO", "--symbol", "PG", "--weighting", "inverse_vol"),
        *("--start", "2015-01-02", "--end", "2016-12-30", "--json"),
        var=isolated_workbench,
    )
    payload = ok_json(out)
    request = PortfolioRequest(
        symbols=["KO", "PG"],
        weighting="inverse_vol",
        start=date(2015, 1, 2),
        end=date(2016, 12, 30),
    )
    expected = run_portfolio(request, save=False)
    assert payload["sharpe"] == expected.metrics["sharpe"]
    assert payload["total_return"] == expected.metrics["total_return"]
    assert payload["final_weights"] == expected.weights.iloc[-1].round(6).to_dict()
    (saved,) = run_store.list_runs()
    assert saved.id == payload["run_id"] and saved.kind == "portfolio"
    assert saved.spec["dataset"] == "sp500_closes"  # the request's default dataset


def test_portfolio_needs_two_distinct_symbols(isolated_workbench: Path) -> None:
    out = workbench("portfolio", "--symbol", "KO", var=isolated_workbench)
    assert out.returncode == 2 and "--symbol" in out.stderr
    out = workbench("portfolio", "--symbol", "KO", "--symbol", "KO", var=isolated_workbench)
    assert out.returncode == 2 and "each symbol may appear once" in out.stderr
    assert run_store.list_runs() == []
