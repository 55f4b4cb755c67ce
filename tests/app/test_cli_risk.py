"""``workbench risk``: every flag and limit checked in its unit and range before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.services import risk as risk_service
from tests.cli_helpers import run_cli

SET = ["risk", "limits", "set"]
CHECK = ["risk", "check", "--symbol", "SP500"]


def invoke(*args: str) -> tuple[int, dict]:
    """Exit code and JSON payload (usage errors from the option parser come as text)."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
    if not result.stdout.strip():
        return result.exit_code, {"error": " ".join(result.stderr.split())}
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["max_drawdown=50"], "max_drawdown must be a fraction of peak equity in (0, 1]"),
        (["max_daily_loss=0"], "max_daily_loss must be a fraction of equity in (0, 1]"),
        (["max_weight_per_asset=-0.1"], "max_weight_per_asset must be a fraction of equity"),
        (["var_limit_95=nan"], "var_limit_95 must be a fraction of equity in (0, 1]"),
        (["max_concentration=true"], "max_concentration must be a share of portfolio volatility"),
        (["max_gross_exposure=11"], "max_gross_exposure must be a multiple of equity in (0, 10]"),
        (["max_net_exposure=abc"], "max_net_exposure must be a multiple of equity in (0, 10]"),
        (["max_order_notional=inf"], "max_order_notional must be an amount of money"),
        (["max_order_notional=1e13"], "in (0, 1e+12]"),
        (["max_orders_per_minute=2.5"], "max_orders_per_minute must be a whole number of orders"),
        (["max_orders_per_minute=0"], "whole number of orders in [1, 10000]"),
        (["var_method=montecarlo"], "var_method must be 'historical' or 'parametric'"),
        (
            ["max_weight=0.2"],
            "Unknown limit 'max_weight'; known limits: max_weight_per_asset (the closest of 10).",
        ),
        (["max_weight_per_asset"], "must look like name=value"),
        (["max_daily_loss=0.5"], "max_drawdown (0.15) must be >= max_daily_loss (0.5)"),
    ],
)
def test_limits_set_refuses_bad_values_with_exit_2_naming_limit_and_range(
    args: list[str], expected: str
) -> None:
    code, payload = invoke(*SET, *args, "--reason", "test")
    assert code == 2
    assert expected in payload["error"]
    assert risk_service.history() == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["max_weight_per_asset=0.2", "--reason", ""], "'--reason'"),
        (["max_weight_per_asset=0.2", "--reason", "  "], "'--reason'"),
        (
            ["max_weight_per_asset=0.2", "--reason", "x", "--expected-version", "-1"],
            "'--expected-version': -1 is out of range",
        ),
        (
            ["max_weight_per_asset=0.2", "--reason", "x", "--expected-version", "4"],
            "version 4 does not exist; the limits in force are version 0",
        ),
    ],
)
def test_limits_set_flags_are_checked(args: list[str], expected: str) -> None:
    code, payload = invoke(*SET, *args)
    assert code == 2 and expected in payload["error"]
    assert risk_service.history() == []


def test_limits_set_with_expected_version_applies_or_names_the_conflict() -> None:
    code, payload = invoke(
        *SET, "max_weight_per_asset=0.2", "--reason", "a", "--expected-version", "0"
    )
    assert (code, payload["version"]) == (0, 1)
    code, payload = invoke(
        *SET, "max_weight_per_asset=0.3", "--reason", "b", "--expected-version", "0"
    )
    assert code == 2
    assert payload["error"].startswith("limits changed by local at ")
    assert (
        "(now version 1; you loaded version 0); reload and apply your change again"
        in payload["error"]
    )
    assert risk_service.current_limits()[1].max_weight_per_asset == 0.2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--qty", "-5"], "'--qty': -5 is out of range; give a number in (0,"),
        (["--qty", "0"], "'--qty': 0 is out of range; give a number in (0,"),
        (["--qty", "nan"], "'--qty': 'nan' is not a number in (0,"),
        (["--qty", "inf"], "'--qty': 'inf' is not a number in (0,"),
        (["--qty", "10", "--side", "hold"], "'--side': 'hold' is not one of: buy, sell"),
        (["--qty", "10", "--price", "-1"], "'--price': -1 is out of range; give a number in (0,"),
        (["--qty", "10", "--price", "nan"], "'--price': 'nan' is not a number in (0,"),
        (["--qty", "10", "--session", "nope"], "none of the paper sessions is named 'nope'"),
    ],
)
def test_risk_check_refuses_bad_flags_with_exit_2(args: list[str], expected: str) -> None:
    code, payload = invoke(*CHECK, *args)
    assert code == 2 and expected in payload["error"]


def test_risk_check_of_a_good_order_and_a_bad_value_from_a_real_shell(tmp_path: Path) -> None:
    ok = run_cli(*CHECK, "--qty", "10", "--price", "100", "--json", var=tmp_path)
    assert ok.returncode == 0, ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["approved"] is True and payload["price"] == 100.0
    bad = run_cli(*SET, "max_drawdown=50", "--reason", "x", var=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "max_drawdown must be a fraction of peak equity in (0, 1]" in bad.stderr
