"""Run specs are checked before any work: declared parameter ranges, grid sizes computed
arithmetically, windows no longer than the data, strict parsing of typed values."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest

from app.operations.backtest import BacktestRequest
from app.operations.params import parse_value
from app.operations.sweep import SweepRequest
from app.services import runs as run_store
from app.services.backtest import run_backtest
from app.services.sweep import run_sweep
from core.strategies import STRATEGIES, validate_params
from core.strategies.catalog import ParamRangeError, check_param, check_windows, param_specs
from core.sweep import MAX_COMBINATIONS, MAX_GRID_COMBINATIONS, GridAxis, grid_size, sweep

SP500_BARS = 5031


def _sweep_request(**grid: str) -> SweepRequest:
    return SweepRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        grid={name: GridAxis.parse(text) for name, text in grid.items()},
    )


# -- declared ranges of strategy parameters -------------------------------------------------


def test_every_numeric_parameter_declares_a_finite_range() -> None:
    for name in STRATEGIES:
        for spec in param_specs(name).values():
            if spec.kind in ("int", "float"):
                assert spec.low is not None and spec.high is not None, (name, spec)
            if spec.window:
                assert spec.kind == "int" and spec.high == 100_000, (name, spec)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 1e23}, r"fast must be an integer in \[1, 100000\] \(bars\), got 1e\+23"),
        ({"fast": 10**30}, r"fast must be an integer in \[1, 100000\]"),
        ({"fast": 20.5}, r"fast must be an integer"),
        ({"fast": True}, r"fast must be an integer in \[1, 100000\] \(bars\), got True"),
        ({"fast": float("nan")}, r"fast"),
        ({"nope": 1}, r"ma_crossover has no parameter 'nope'"),
    ],
)
def test_ma_crossover_params_outside_their_range_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_params("ma_crossover", params)


@pytest.mark.parametrize(
    ("strategy", "params", "field"),
    [
        ("vol_target_trend", {"target_vol": float("inf")}, "target_vol"),
        ("vol_target_trend", {"periods_per_year": 1e300}, "periods_per_year"),
        ("mean_reversion", {"entry": float("nan")}, "entry"),
        ("mean_reversion", {"entry": 1e308}, "entry"),
        ("ts_momentum", {"lookback": -5}, "lookback"),
        ("donchian_breakout", {"window": 10**6}, "window"),
    ],
)
def test_float_and_int_params_must_be_finite_and_in_range(
    strategy: str, params: dict, field: str
) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be"):
        validate_params(strategy, params)


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("fast", 1, True),
        ("fast", 0, False),
        ("fast", 100_000, True),
        ("fast", 100_001, False),
        ("fast", 5.0, True),
        ("fast", 5.5, False),
        ("allow_short", 1, False),
    ],
)
def test_check_param_agrees_with_the_model_at_the_bounds(
    field: str, value: object, ok: bool
) -> None:
    if ok:
        check_param("ma_crossover", field, value)
    else:
        with pytest.raises(ParamRangeError):
            check_param("ma_crossover", field, value)


def test_window_longer_than_the_data_is_refused_before_any_work() -> None:
    request = BacktestRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        params={"fast": 6000, "slow": 7000},
    )
    with pytest.raises(ParamRangeError, match="6000 bars is longer than the 5031 bars") as info:
        run_backtest(request)
    assert info.value.field == "fast"
    assert run_store.list_runs() == []
    check_windows("ma_crossover", {"fast": 20, "slow": SP500_BARS}, SP500_BARS)


# -- grid axes: sized arithmetically, capped before anything is built ------------------------


@pytest.mark.parametrize(
    "text", ["1:1e15:1", "1:1e300:1", "-1e308:1e308:1", "1:2:1e-300", "0:1:0.000001"]
)
def test_huge_axis_is_refused_instantly_without_allocating(text: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than the cap of 1,000,000"):
            _sweep_request(fast=text, slow="10:20:5")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # old code tried to allocate 7 PiB for 1:1e15:1


@pytest.mark.parametrize("text", ["1:inf:1", "nan:5:1", "1:5:nan", "-inf:5:1", "1e400:1e401:1"])
def test_non_finite_axes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="finite numbers"):
        GridAxis.parse(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("1:5:0", "greater than 0"), ("1:5:-1", "greater than 0"), ("5:1:1", "below start")],
)
def test_zero_negative_steps_and_empty_ranges_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GridAxis.parse(text)


def test_axis_count_matches_its_values_and_the_cap_is_inclusive() -> None:
    assert GridAxis.parse("5:100:5").count == len(GridAxis.parse("5:100:5").values()) == 20
    assert GridAxis.parse(f"1:{MAX_COMBINATIONS}:1").count == MAX_COMBINATIONS
    with pytest.raises(ValueError, match="1,000,001 points"):
        GridAxis.parse(f"1:{MAX_COMBINATIONS + 1}:1")


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"fast": "1.5:10:1"}, "fast is an integer parameter; use integer start and step"),
        ({"fast": "1:10:0.5"}, "fast is an integer parameter"),
        ({"fast": "0:10:1"}, r"fast=0:10:1 goes outside the valid range.*\[1, 100000\]"),
        ({"fast": "5:200000:1000"}, "goes outside the valid range"),
        ({"allow_short": "0:1:1"}, "allow_short is true or false, not a numeric range"),
        ({"window": "5:10:1"}, r"ma_crossover has no parameters \['window'\]"),
        ({"fast": "1:2000:1", "slow": "2:1000:1"}, "1,998,000 combinations exceed 1,000,000"),
    ],
)
def test_sweep_request_names_the_bad_axis(grid: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _sweep_request(**grid)


def test_sweep_request_checks_fixed_params_and_metric() -> None:
    axes = {"fast": GridAxis.parse("5:10:5")}
    common = {"dataset": "ohlcv_daily", "symbol": "SP500", "strategy": "ma_crossover"}
    with pytest.raises(ValueError, match=r"slow must be an integer in \[2, 100000\]"):
        SweepRequest(**common, grid=axes, fixed={"slow": 1e23})
    with pytest.raises(ValueError, match="fast is both swept and fixed"):
        SweepRequest(**common, grid=axes, fixed={"fast": 5})
    with pytest.raises(ValueError, match="unknown metric 'zzz'"):
        SweepRequest(**common, grid=axes, metric="zzz")


def test_sweep_window_longer_than_the_data_is_refused_and_nothing_saved() -> None:
    request = _sweep_request(fast="5:10:5", slow="100:6000:100")
    with pytest.raises(ParamRangeError, match="6000 bars is longer than the 5031 bars"):
        run_sweep(request)
    assert run_store.list_runs() == []


def test_grid_size_is_exact_beyond_int64() -> None:
    axis = np.arange(100_000)
    assert grid_size({"a": axis, "b": axis, "c": axis, "d": axis}) == 10**20
    assert grid_size({}) == 0


def test_core_sweep_checks_its_cap_before_building_the_mesh() -> None:
    prices = pd.Series(
        np.linspace(100.0, 120.0, 300), index=pd.bdate_range("2020-01-01", periods=300)
    )
    grid = {"window": np.arange(2, 2002), "exit_window": np.arange(1, 2001)}
    assert grid_size(grid) > MAX_GRID_COMBINATIONS
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="4,000,000 combinations, more than 2,000,000"):
            sweep("donchian_breakout", prices, grid)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # a 4M-point mesh alone is 64 MB


# -- typed values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20", 20),
        (" 20 ", 20),
        ("-3", -3),
        ("0.5", 0.5),
        ("1e3", 1000.0),
        ("true", True),
        ("rsi", "rsi"),
        ("١٢", "١٢"),
        ("1_000", "1_000"),
        ("0x10", "0x10"),
    ],
)
def test_parse_value_reads_ascii_numbers_only(text: str, expected: object) -> None:
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "1e999", "9" * 400])
def test_parse_value_refuses_non_finite_and_absurd_numbers(text: str) -> None:
    with pytest.raises(ValueError, match=r"finite|too large|digits"):
        parse_value(text)
