"""Backtest services (one strategy, tear sheet, report) and saved runs, on the real SP500 data.

Golden values are recomputed independently: buy-and-hold equity by hand from the
execution convention of :data:`core.backtest.spec.EXECUTION`.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from app.operations.backtest import BacktestRequest, ReportRequest
from app.services import backtest, report
from app.services import runs as run_store
from app.services.data import load_prices
from core.backtest.spec import EXECUTION

SP500 = {"dataset": "ohlcv_daily", "symbol": "SP500"}
METRIC_KEYS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_duration",
    "win_rate",
    "profit_factor",
    "n_trades",
    "exposure",
    "turnover",
)


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    prices = load_prices("ohlcv_daily", "SP500")
    # Anchors from the raw file (also checked on the Data page): 5,031 bars.
    assert len(prices) == 5031
    assert prices["close"].iloc[0] == pytest.approx(1228.099976)
    assert prices["close"].iloc[-1] == pytest.approx(2506.850098)
    return prices


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# --------------------------------------------------------------------------- validation


def test_backtest_request_rejects_unknown_strategy() -> None:
    with pytest.raises(ValidationError, match="unknown strategy 'nope'"):
        BacktestRequest(**SP500, strategy="nope")


@pytest.mark.parametrize(("fast", "slow"), [(100, 20), (50, 50)])
def test_backtest_request_rejects_fast_not_below_slow(fast: int, slow: int) -> None:
    with pytest.raises(ValueError) as err:
        BacktestRequest(**SP500, strategy="ma_crossover", params={"fast": fast, "slow": slow})
    text = str(err.value)
    assert f"fast window ({fast})" in text and f"slow window ({slow})" in text


def test_backtest_request_rejects_start_not_before_end() -> None:
    with pytest.raises(ValueError, match="2010-01-01 must be before the last date 2009-12-31"):
        BacktestRequest(
            **SP500, strategy="buy_and_hold", start=date(2010, 1, 1), end=date(2009, 12, 31)
        )
    with pytest.raises(ValueError, match="must be before the last date"):
        BacktestRequest(
            **SP500, strategy="buy_and_hold", start=date(2010, 1, 1), end=date(2010, 1, 1)
        )


def test_backtest_request_rejects_unknown_param_and_negative_costs() -> None:
    with pytest.raises(ValueError, match="window"):
        BacktestRequest(**SP500, strategy="ma_crossover", params={"window": 5})
    with pytest.raises(ValidationError, match="fees"):
        BacktestRequest(**SP500, strategy="buy_and_hold", fees=-0.001)


def test_valid_backtest_request_keeps_its_values() -> None:
    req = BacktestRequest(
        **SP500, strategy="ma_crossover", params={"fast": 20, "slow": 100}, fees=0.001
    )
    assert (req.fees, req.slippage, req.init_cash) == (0.001, 0.0005, 100_000.0)
    spec = req.spec()
    assert (spec.fees, spec.slippage, spec.init_cash) == (0.001, 0.0005, 100_000.0)


# --------------------------------------------------------------------------- backtests


def test_run_backtest_saves_a_run_that_reopens_identically(isolated_workbench: Path) -> None:
    req = BacktestRequest(**SP500, strategy="ma_crossover", params={"fast": 20, "slow": 100})
    out = backtest.run_backtest(req)
    assert out.run_id is not None
    assert out.execution == EXECUTION
    assert set(METRIC_KEYS) <= set(out.metrics)
    assert len(out.equity) == 5031
    # Sanity: the final equity is init_cash * (1 + total_return).
    assert out.equity.iloc[-1] == pytest.approx(100_000 * (1 + out.metrics["total_return"]))
    assert out.metrics["n_trades"] == len(out.trades)

    listed = run_store.list_runs()
    assert [(r.id, r.kind, r.status) for r in listed] == [(out.run_id, "backtest", "done")]
    assert listed[0].title == "ma_crossover SP500 fast=20 slow=100"
    folder = run_store.run_folder(out.run_id)
    assert folder.parent.parent == isolated_workbench
    assert sorted(p.name for p in folder.iterdir()) == ["curves.parquet", "trades.parquet"]

    back = backtest.reopen_backtest(out.run_id)
    assert back.request == req
    assert back.execution == EXECUTION
    for name in ("equity", "benchmark", "drawdown", "returns", "benchmark_returns", "positions"):
        pd.testing.assert_series_equal(
            getattr(back, name), getattr(out, name), check_names=False, check_freq=False
        )
    pd.testing.assert_frame_equal(back.trades, out.trades)
    for key, value in out.metrics.items():
        assert _same(back.metrics[key], value), key
    assert back.metrics["benchmark_sharpe"] == out.benchmark_metrics["sharpe"]
    for key in ("total_return", "sharpe", "max_drawdown", "cagr", "volatility"):
        assert back.benchmark_metrics[key] == pytest.approx(out.benchmark_metrics[key], rel=1e-12)


def test_benchmark_equity_matches_hand_computed_buy_and_hold(sp500: pd.DataFrame) -> None:
    fees, slippage, cash = 0.001, 0.002, 50_000.0
    req = BacktestRequest(
        **SP500,
        strategy="ma_crossover",
        params={"fast": 10, "slow": 30},
        fees=fees,
        slippage=slippage,
        init_cash=cash,
    )
    out = backtest.run_backtest(req, save=False)
    assert out.run_id is None

    open_, close = sp500["open"].to_numpy(), sp500["close"].to_numpy()
    # Signal at the close of bar 0, all-in buy at the open of bar 1 with slippage; the
    # order is shrunk so that cash covers value plus fees: shares * price * (1 + fees) = cash.
    fill = open_[1] * (1 + slippage)
    shares = cash / (fill * (1 + fees))
    expected = np.concatenate([[cash], shares * close[1:]])
    bench = out.benchmark.to_numpy()
    assert bench[-1] == pytest.approx(expected[-1], rel=1e-6)
    np.testing.assert_allclose(bench, expected, rtol=1e-9)
    paid_fees = shares * fill * fees
    assert out.benchmark_metrics["total_fees"] == pytest.approx(paid_fees, rel=1e-9)
    assert out.benchmark_metrics["n_trades"] == 1
    # Benchmark returns are the same curve's per-bar returns (bar 0 against init_cash).
    np.testing.assert_allclose(
        out.benchmark_returns.to_numpy(), expected / np.concatenate([[cash], expected[:-1]]) - 1
    )


def test_zero_cost_buy_and_hold_return_is_close_over_next_open(sp500: pd.DataFrame) -> None:
    req = BacktestRequest(**SP500, strategy="buy_and_hold", fees=0, slippage=0)
    out = backtest.run_backtest(req, save=False)
    expected = sp500["close"].iloc[-1] / sp500["open"].iloc[1] - 1
    assert out.metrics["total_return"] == pytest.approx(expected, rel=1e-9)
    assert out.benchmark_metrics["total_return"] == pytest.approx(expected, rel=1e-9)
    assert out.metrics["total_fees"] == 0.0
    np.testing.assert_allclose(out.equity.to_numpy(), out.benchmark.to_numpy(), rtol=1e-12)


def test_costs_lower_the_result_and_date_range_clips(sp500: pd.DataFrame) -> None:
    base = {"strategy": "ma_crossover", "params": {"fast": 20, "slow": 100}}
    free = backtest.run_backtest(BacktestRequest(**SP500, **base, fees=0, slippage=0), save=False)
    costly = backtest.run_backtest(
        BacktestRequest(**SP500, **base, fees=0.002, slippage=0.002), save=False
    )
    assert costly.metrics["total_return"] < free.metrics["total_return"]
    assert costly.metrics["total_fees"] > free.metrics["total_fees"] == 0.0
    # Costs never change the signal: same trades count and exposure.
    assert costly.metrics["n_trades"] == free.metrics["n_trades"]
    assert costly.metrics["exposure"] == free.metrics["exposure"]

    clipped = backtest.run_backtest(
        BacktestRequest(**SP500, **base, start=date(2005, 1, 1), end=date(2009, 12, 31)),
        save=False,
    )
    expected_bars = len(sp500.loc["2005-01-01":"2009-12-31"])
    assert len(clipped.equity) == expected_bars
    assert clipped.equity.index[0] >= pd.Timestamp("2005-01-01")
    assert clipped.equity.index[-1] <= pd.Timestamp("2009-12-31")


def test_failed_save_leaves_no_run_and_no_folder(isolated_workbench: Path) -> None:
    good = pd.DataFrame({"x": [1.0, 2.0]})
    # pyarrow cannot convert an object column that mixes ints and strings.
    bad = pd.DataFrame({"mixed": [1, "two"]})
    with pytest.raises(Exception, match=r"(?i)conver|type"):
        run_store.save_run(
            kind="backtest",
            title="broken",
            spec={"a": 1},
            metrics={"sharpe": 1.0},
            frames={"good": good, "bad": bad},
        )
    assert run_store.list_runs() == []
    runs_dir = isolated_workbench / "runs"
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []

    # The store still works afterwards, and a good save writes its frames.
    run_id = run_store.save_run(
        kind="backtest", title="ok", spec={}, metrics={"sharpe": 1.0}, frames={"good": good}
    )
    run = run_store.get_run(run_id)
    assert (run.title, run.status, run.metrics) == ("ok", "done", {"sharpe": 1.0})
    pd.testing.assert_frame_equal(run_store.load_frame(run, "good"), good)
    assert [p.name for p in (isolated_workbench / "runs").iterdir()] == [str(run_id)]


def test_unknown_and_wrong_kind_runs_are_lookup_errors() -> None:
    with pytest.raises(LookupError, match="no saved run with id 99"):
        backtest.reopen_backtest(99)
    run_id = run_store.save_run(
        kind="sweep", title="s", spec={}, metrics={}, frames={"table": pd.DataFrame({"a": [1]})}
    )
    with pytest.raises(LookupError, match="is a sweep, not a backtest"):
        backtest.reopen_backtest(run_id)
    run = run_store.get_run(run_id)
    with pytest.raises(LookupError, match="missing"):
        run_store.load_frame(run, "nothing")


# --------------------------------------------------------------------------- tear sheet


def test_tearsheet_html_has_benchmark() -> None:
    req = BacktestRequest(**SP500, strategy="ma_crossover", params={"fast": 20, "slow": 100})
    html = backtest.tearsheet(backtest.run_backtest(req, save=False))
    assert "<!doctype html>" in html[:200].lower()
    assert html.rstrip().endswith("</html>")
    assert "Benchmark" in html
    assert "ma_crossover on ohlcv_daily/SP500 vs buy-and-hold" in html


def test_reopened_benchmark_exposure_matches_the_original_run() -> None:
    req = BacktestRequest(**SP500, strategy="buy_and_hold")
    out = backtest.run_backtest(req)
    assert out.benchmark_metrics["exposure"] == pytest.approx(5030 / 5031)
    back = backtest.reopen_backtest(out.run_id)
    assert back.benchmark_metrics["exposure"] == pytest.approx(5030 / 5031)


def test_report_of_a_saved_run_reopens_it_and_a_new_one_is_saved() -> None:
    req = BacktestRequest(**SP500, strategy="ma_crossover", params={"fast": 20, "slow": 100})
    saved = backtest.run_backtest(req)
    again = report.report(ReportRequest(run_id=saved.run_id))
    assert again.run_id == saved.run_id
    assert "ma_crossover on ohlcv_daily/SP500 vs buy-and-hold" in again.html
    assert [r.id for r in run_store.list_runs()] == [saved.run_id]  # nothing recomputed
    fresh = report.report(ReportRequest(**SP500, strategy="buy_and_hold"))
    assert fresh.run_id not in (None, saved.run_id)
    assert "buy_and_hold on ohlcv_daily/SP500 vs buy-and-hold" in fresh.html
    assert run_store.get_run(fresh.run_id).spec["strategy"] == "buy_and_hold"
