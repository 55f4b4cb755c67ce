"""Backtests: golden values, the t+1 fill convention, costs, shorts, portfolios.

Everything is checked against an independent computation: closed-form prices for known
paths and plain numpy for metrics. The numpy sweep kernel is tested in test_sweep.py.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

import core.backtest.engine as engine
import core.backtest.execution as execution
import core.backtest.metrics as metrics
import core.backtest.spec as spec_module
from core.backtest import (
    EXECUTION,
    BacktestSpec,
    run_backtest,
    run_portfolio_backtest,
    warm_numba,
)
from core.data.synthetic import SyntheticSpec, generate
from core.strategies import run_strategy

FREE = BacktestSpec(fees=0.0, slippage=0.0)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=800, seed=11))[0]


def _frame(open_: list[float], close: list[float]) -> pd.DataFrame:
    idx = pd.bdate_range("2022-01-03", periods=len(close), name="date")
    return pd.DataFrame({"open": open_, "close": close}, index=idx, dtype=float)


# --- spec -------------------------------------------------------------------------------


def test_spec_is_keyword_only_frozen_and_validated() -> None:
    spec = BacktestSpec()
    assert (spec.fees, spec.slippage, spec.init_cash, spec.freq) == (0.0005, 0.0005, 100_000, "1D")
    with pytest.raises(TypeError):
        BacktestSpec(0.001)  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.fees = 0.1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="fees"):
        BacktestSpec(fees=-0.1)
    with pytest.raises(ValidationError, match="fixed bar length"):
        BacktestSpec(freq="M")
    assert "t+1 open" in EXECUTION


# --- golden single-asset values ---------------------------------------------------------


def test_buy_and_hold_without_costs_returns_last_close_over_first_fill(
    prices: pd.DataFrame,
) -> None:
    result = run_backtest(prices, run_strategy("buy_and_hold", prices), FREE)
    expected = prices["close"].iloc[-1] / prices["open"].iloc[1] - 1.0
    assert result.metrics["total_return"] == pytest.approx(expected, rel=1e-12)
    assert result.equity.iloc[0] == FREE.init_cash  # bar 0 only decides; nothing filled yet
    assert len(result.trades) == 1
    assert result.trades["entry_date"].iloc[0] == prices.index[1]
    assert result.trades["entry_price"].iloc[0] == pytest.approx(prices["open"].iloc[1])
    assert result.execution == EXECUTION


def test_buy_and_hold_fills_at_close_without_open_column(prices: pd.DataFrame) -> None:
    close_only = prices[["close"]]
    result = run_backtest(close_only, run_strategy("buy_and_hold", close_only), FREE)
    expected = prices["close"].iloc[-1] / prices["close"].iloc[1] - 1.0
    assert result.metrics["total_return"] == pytest.approx(expected, rel=1e-12)


def test_sharpe_and_drawdown_match_independent_numpy(prices: pd.DataFrame) -> None:
    pos = run_strategy("ma_crossover", prices, {"fast": 10, "slow": 30, "allow_short": True})
    result = run_backtest(prices, pos, BacktestSpec())
    equity = result.equity.to_numpy()
    rets = np.diff(np.concatenate([[BacktestSpec().init_cash], equity])) / np.concatenate(
        [[BacktestSpec().init_cash], equity[:-1]]
    )
    np.testing.assert_allclose(result.returns.to_numpy(), rets, rtol=1e-12, atol=1e-15)
    sharpe = rets.mean() / rets.std(ddof=1) * np.sqrt(252)
    assert result.metrics["sharpe"] == pytest.approx(sharpe, rel=1e-10)
    peak, worst = BacktestSpec().init_cash, 0.0
    for value in equity:
        peak = max(peak, value)
        worst = min(worst, value / peak - 1.0)
    assert result.metrics["max_drawdown"] == pytest.approx(worst, rel=1e-10)
    assert result.drawdown.min() == pytest.approx(worst, rel=1e-10)
    assert result.metrics["n_trades"] == len(result.trades)


def test_fill_happens_at_next_bar() -> None:
    # bar 2 jumps +50% from its open to its close; a position decided at bar 2's close
    # must earn nothing from that move and enter at bar 3's open.
    frame = _frame([100, 100, 100, 150, 150, 150], [100, 100, 150, 150, 165, 165])
    pos = pd.Series([0, 0, 1, 1, 1, 1], index=frame.index, dtype=float)
    result = run_backtest(frame, pos, FREE)
    assert (result.equity.iloc[:3] == FREE.init_cash).all()
    assert result.trades["entry_date"].iloc[0] == frame.index[3]
    assert result.trades["entry_price"].iloc[0] == 150.0
    assert result.metrics["total_return"] == pytest.approx(165 / 150 - 1, rel=1e-12)
    # deciding one bar earlier captures the jump from bar 2's open
    early = run_backtest(frame, pos.shift(-1).fillna(1.0), FREE)
    assert early.metrics["total_return"] == pytest.approx(165 / 100 - 1, rel=1e-12)


def test_fees_and_slippage_cost_the_expected_amount_on_one_round_trip() -> None:
    frame = _frame([100, 100, 104, 110, 120, 120], [100, 102, 108, 115, 121, 119])
    pos = pd.Series([1, 1, 1, 0, 0, 0], index=frame.index, dtype=float)
    fees, slip, cash = 0.001, 0.002, 100_000.0
    spec = BacktestSpec(fees=fees, slippage=slip, init_cash=cash)
    result = run_backtest(frame, pos, spec)
    # entry at open[1] = 100, exit at open[4] = 120
    entry, exit_ = 100 * (1 + slip), 120 * (1 - slip)
    shares = cash / (entry * (1 + fees))
    final = shares * exit_ * (1 - fees)
    assert result.equity.iloc[-1] == pytest.approx(final, rel=1e-12)
    trade = result.trades.iloc[0]
    assert trade["entry_price"] == pytest.approx(entry)
    assert trade["exit_price"] == pytest.approx(exit_)
    assert trade["fees"] == pytest.approx(shares * entry * fees + shares * exit_ * fees)
    free = run_backtest(frame, pos, FREE)
    assert free.metrics["total_return"] == pytest.approx(120 / 100 - 1, rel=1e-12)
    assert result.metrics["total_return"] < free.metrics["total_return"]
    fees_only = run_backtest(frame, pos, BacktestSpec(fees=fees, slippage=0.0))
    assert result.metrics["total_return"] < fees_only.metrics["total_return"]
    assert fees_only.metrics["total_return"] < free.metrics["total_return"]


def test_short_profits_in_a_falling_series() -> None:
    n = 60
    close = 100.0 * 0.99 ** np.arange(n)
    frame = _frame(list(np.concatenate([[100.0], close[:-1]])), list(close))
    short = pd.Series(-1.0, index=frame.index)
    result = run_backtest(frame, short, FREE)
    # short V/open[1] shares at open[1]; cash = 2V; equity = 2V - V * close / open[1]
    expected = 1.0 - close[-1] / frame["open"].iloc[1]
    assert result.metrics["total_return"] == pytest.approx(expected, rel=1e-12)
    assert result.metrics["total_return"] > 0.4
    assert result.trades["direction"].iloc[0] == "short"
    assert result.weights.iloc[-1] < 0
    assert run_backtest(frame, -short, FREE).metrics["total_return"] < 0


def test_invalid_positions_are_rejected(prices: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"within \[-1, 1\]"):
        run_backtest(prices, pd.Series(2.0, index=prices.index))
    with pytest.raises(ValueError, match="close"):
        run_backtest(prices.drop(columns="close"), pd.Series(1.0, index=prices.index))


# --- portfolio ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assets() -> dict[str, pd.DataFrame]:
    return {
        name: generate(SyntheticSpec(bars=300, seed=seed))[0]
        for name, seed in (("aaa", 1), ("bbb", 2), ("ccc", 3))
    }


def test_portfolio_shared_cash_weights_sum_correctly(assets: dict[str, pd.DataFrame]) -> None:
    idx = assets["aaa"].index
    weights = pd.DataFrame({"aaa": 0.5, "bbb": 0.3, "ccc": 0.2}, index=idx)
    result = run_portfolio_backtest(assets, weights, FREE, rebalance=None)
    first = result.orders[result.orders["date"] == idx[1]].sort_values("asset")
    values = (first["size"] * first["price"]).to_numpy()
    np.testing.assert_allclose(values, [50_000, 30_000, 20_000], rtol=1e-12)
    np.testing.assert_allclose(result.weights.sum(axis=1).iloc[1:], 1.0, rtol=1e-12)
    # one cash account: equity = sum of shares * close, with no cash left over
    shares = first.set_index("asset")["size"]
    closes = pd.Series({a: assets[a]["close"].iloc[-1] for a in shares.index})
    assert result.equity.iloc[-1] == pytest.approx(float((shares * closes).sum()), rel=1e-12)


def test_portfolio_long_short_and_monthly_rebalance(assets: dict[str, pd.DataFrame]) -> None:
    idx = assets["aaa"].index
    weights = pd.DataFrame({"aaa": 0.5, "bbb": -0.5}, index=idx)
    result = run_portfolio_backtest(assets, weights, BacktestSpec(), rebalance="M")
    months = pd.Series(idx.to_period("M"), index=idx)
    first_bars = idx[1:][months.iloc[1:].to_numpy() != months.iloc[:-1].to_numpy()]
    assert set(result.rebalance_dates) == {idx[1], *first_bars}
    assert set(result.orders["date"]) <= set(result.rebalance_dates)
    at_rebalance = result.orders[result.orders["date"] == idx[1]].set_index("asset")
    assert at_rebalance.loc["aaa", "side"] == "buy" and at_rebalance.loc["bbb", "side"] == "sell"
    assert (result.weights["ccc"] == 0).all()
    assert (result.weights["aaa"].iloc[1:] > 0).all() and (result.weights["bbb"].iloc[1:] < 0).all()
    with pytest.raises(ValueError, match="gross weight"):
        run_portfolio_backtest(assets, weights * 3, BacktestSpec())


# --- metrics ------------------------------------------------------------------------------


def test_equity_metrics_agree_with_the_single_formulas() -> None:
    rng = np.random.default_rng(3)
    rets = rng.normal(0.0004, 0.012, (400, 5))
    rets[50:90, 1] = 0.0
    equity = 1_000.0 * np.cumprod(1 + rets, axis=0)
    fast = metrics.equity_metrics(equity, 1_000.0)
    slow = metrics.summary(rets, np.zeros_like(rets))
    for name, values in fast.items():
        np.testing.assert_allclose(values, slow[name], rtol=1e-9, err_msg=name)
    positions = rng.choice([-1.0, 0.0, 0.5, 1.0], size=(400, 5))
    for name, values in metrics.position_metrics(positions).items():
        np.testing.assert_allclose(
            values, slow_pos := getattr(metrics, name)(positions), err_msg=name
        )
        assert slow_pos.shape == (5,)


@pytest.mark.parametrize("module", [metrics, execution, engine, spec_module])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0


def test_warm_numba_compiles_the_single_and_multi_asset_kernels() -> None:
    import vectorbt.portfolio.nb as vbt_nb

    seconds = warm_numba()
    assert isinstance(seconds, float) and np.isfinite(seconds)
    # one compiled signature for the single-asset layout, one for the grouped portfolio
    assert len(vbt_nb.simulate_from_orders_nb.signatures) >= 2
