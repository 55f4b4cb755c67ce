"""Backtest metrics against hand-computed values and a plain-Python reference.

The reference below loops over bars with the ``math`` module only, so it shares no code
(and no numpy idiom) with core.backtest.metrics.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import core.backtest.metrics as m

# --- an independent, loop-based reference -------------------------------------------------


def ref_total(r: list[float]) -> float:
    growth = 1.0
    for x in r:
        growth *= 1.0 + x
    return growth - 1.0


def ref_cagr(r: list[float], ppy: float) -> float:
    growth = 1.0 + ref_total(r)
    return growth ** (ppy / len(r)) - 1.0 if growth > 0 else -1.0


def ref_std(r: list[float]) -> float:
    mean = sum(r) / len(r)
    return math.sqrt(sum((x - mean) ** 2 for x in r) / (len(r) - 1))


def ref_sharpe(r: list[float], ppy: float) -> float:
    sd = ref_std(r)
    return sum(r) / len(r) / sd * math.sqrt(ppy) if sd != 0 else math.nan


def ref_sortino(r: list[float], ppy: float) -> float:
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / len(r))
    return sum(r) / len(r) / down * math.sqrt(ppy) if down != 0 else math.nan


def ref_drawdowns(r: list[float], start: float = 1.0) -> tuple[float, int]:
    """Deepest drawdown and longest run of bars below a peak (the start is a peak)."""
    wealth, peak, worst, run, longest = start, start, 0.0, 0, 0
    for x in r:
        wealth *= 1.0 + x
        if wealth >= peak:
            peak, run = wealth, 0
        else:
            run += 1
        worst = min(worst, wealth / peak - 1.0)
        longest = max(longest, run)
    return worst, longest


def ref_positions(p: list[float], ppy: float) -> tuple[int, float, float]:
    trades, prev_sign, prev, moved = 0, 0, 0.0, 0.0
    for x in p:
        sign = (x > 0) - (x < 0)
        if sign != 0 and sign != prev_sign:
            trades += 1
        moved += abs(x - prev)
        prev_sign, prev = sign, x
    exposure = sum(1 for x in p if x != 0) / len(p)
    return trades, exposure, moved / len(p) * ppy


def ref_all(r: list[float], ppy: float) -> dict[str, float]:
    mdd, duration = ref_drawdowns(r)
    cagr = ref_cagr(r, ppy)
    return {
        "total_return": ref_total(r),
        "cagr": cagr,
        "volatility": ref_std(r) * math.sqrt(ppy),
        "sharpe": ref_sharpe(r, ppy),
        "sortino": ref_sortino(r, ppy),
        "max_drawdown": mdd,
        "max_drawdown_duration": duration,
        "calmar": cagr / -mdd if mdd != 0 else math.nan,
    }


@pytest.fixture(scope="module")
def panel() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    rets = rng.normal(0.0004, 0.015, (300, 4))
    rets[:, 1] = np.abs(rets[:, 1])  # never loses: no drawdown, no downside
    rets[100:160, 2] = 0.0
    rets[:, 3] = -np.abs(rets[:, 3])  # only loses
    positions = rng.choice([-1.0, -0.5, 0.0, 0.5, 1.0], size=(300, 4))
    positions[:, 1] = 0.0  # never in the market
    return rets, positions


# --- exact values on tiny inputs, worked by hand -------------------------------------------


def test_tiny_cases_by_hand() -> None:
    np.testing.assert_allclose(
        m.returns_from_equity(np.array([110.0, 99.0, 99.0]), 100.0), [0.1, -0.1, 0.0]
    )
    np.testing.assert_allclose(m.equity_curve(np.array([0.5, -0.5])), [1.5, 0.75])
    assert float(m.total_return(np.array([0.5, -0.5]))) == pytest.approx(-0.25)
    # 1.21 ** (4 / 2) - 1
    assert float(m.cagr(np.array([0.1, 0.1]), 4)) == pytest.approx(0.4641, rel=1e-12)
    # all money lost: growth 0, CAGR -100 % (no complex power)
    assert float(m.cagr(np.array([-1.0, 0.5]), 252)) == -1.0
    # std of [0.01, 0.03] is sqrt(2) * 0.01; mean 0.02
    assert float(m.annualized_volatility(np.array([0.01, 0.03]), 9)) == pytest.approx(
        3 * math.sqrt(2) * 0.01, rel=1e-12
    )
    assert float(m.sharpe_ratio(np.array([0.01, 0.03]), 1)) == pytest.approx(
        math.sqrt(2), rel=1e-12
    )
    # downside deviation sqrt((0.01^2 + 0.02^2) / 4), mean 0.005
    r = np.array([0.02, -0.01, 0.03, -0.02])
    assert float(m.sortino_ratio(r, 4)) == pytest.approx(0.005 / math.sqrt(5e-4 / 4) * 2, rel=1e-12)
    # wealth 1, 0.9, 0.945, 1.0395, 1.029105: deepest -10 %, two bars below the peak
    r = np.array([-0.1, 0.05, 0.1, -0.01])
    assert float(m.max_drawdown(r)) == pytest.approx(-0.1, rel=1e-12)
    assert int(m.max_drawdown_duration(r)) == 2
    cagr = 1.029105 ** (252 / 4) - 1
    assert float(m.calmar_ratio(r)) == pytest.approx(cagr / 0.1, rel=1e-9)
    p = np.array([0.0, 1.0, -1.0, -0.5, 0.0])
    assert int(m.n_trades(p)) == 2  # open long, flip short; resizing is no trade
    assert float(m.exposure(p)) == pytest.approx(0.6)
    # |dp| = 0 + 1 + 2 + 0.5 + 0.5 = 4 over 5 bars, times 10 bars a year
    assert float(m.turnover(p, periods_per_year=10)) == pytest.approx(8.0)
    assert m.win_rate(np.array([1.0, -1.0, 0.0, 2.0])) == 0.5
    assert m.profit_factor(np.array([6.0, -4.0, 2.0, -0.0])) == 2.0


def test_degenerate_inputs_give_nan_without_warnings() -> None:
    flat = np.zeros(5)
    gains = np.array([0.01, 0.02, 0.03])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(m.sharpe_ratio(flat))
        assert np.isnan(m.sortino_ratio(gains))  # no downside
        assert np.isnan(m.calmar_ratio(gains))  # no drawdown
        assert float(m.max_drawdown(gains)) == 0.0
        assert int(m.max_drawdown_duration(gains)) == 0
        # negative wealth, and 252 / 5 is no integer power: -100 %, not NaN
        assert float(m.cagr(np.array([-1.5, 0.1, 0.0, 0.0, 0.0]))) == -1.0
        assert np.isnan(m.win_rate(np.array([])))
        assert np.isnan(m.profit_factor(np.array([1.0, 0.0])))
        eq = m.equity_metrics(np.array([100.0, 100.0, 100.0]), 100.0)
        assert np.isnan(eq["sharpe"]) and np.isnan(eq["sortino"]) and np.isnan(eq["calmar"])
        assert float(eq["cagr"]) == 0.0 and float(eq["max_drawdown"]) == 0.0
        ruined = m.equity_metrics(np.array([50.0, -10.0, -10.0, -10.0, -10.0]), 100.0)
        assert float(ruined["cagr"]) == -1.0


def test_a_trailing_drawdown_counts_in_the_duration() -> None:
    # still under water at the end: 3 bars after the peak at bar 0
    assert int(m.max_drawdown_duration(np.array([0.1, -0.05, -0.05, 0.01]))) == 3
    eq = 1_000.0 * np.cumprod([1.1, 0.95, 0.95, 1.01])
    assert int(m.equity_metrics(eq, 1_000.0)["max_drawdown_duration"]) == 3
    # under water from the first bar: the starting cash is the peak
    eq = np.array([900.0, 950.0, 1_000.0, 990.0])
    out = m.equity_metrics(eq, 1_000.0)
    assert int(out["max_drawdown_duration"]) == 2  # bars 0 and 1; bar 2 is back at 1,000
    assert float(out["max_drawdown"]) == pytest.approx(-0.1, rel=1e-12)


# --- the whole toolbox against the reference, 1-D and 2-D ----------------------------------


@pytest.mark.parametrize("ppy", [252.0, 12.0])
def test_return_metrics_match_the_loop_reference(
    panel: tuple[np.ndarray, np.ndarray], ppy: float
) -> None:
    rets, positions = panel
    summary = m.summary(rets, positions, ppy)
    fast = m.equity_metrics(10_000.0 * np.cumprod(1.0 + rets, axis=0), 10_000.0, ppy)
    for col in range(rets.shape[1]):
        want = ref_all(rets[:, col].tolist(), ppy)
        one_d = m.summary(rets[:, col], positions[:, col], ppy)
        for name, value in want.items():
            for got in (summary[name][col], one_d[name], fast[name][col]):
                if math.isnan(value):
                    assert np.isnan(got), (name, col)
                else:
                    assert float(got) == pytest.approx(value, rel=1e-9, abs=1e-12), (name, col)
    assert set(summary) == {*ref_all([0.1, 0.2], 1), "n_trades", "exposure", "turnover"}
    assert all(np.shape(v) == (4,) for v in fast.values())
    assert all(np.ndim(v) == 0 for v in m.equity_metrics(np.array([1.0, 2.0]), 1.0).values())


@pytest.mark.parametrize("ppy", [252.0, 52.0])
def test_position_metrics_match_the_loop_reference(
    panel: tuple[np.ndarray, np.ndarray], ppy: float
) -> None:
    _, positions = panel
    fast = m.position_metrics(positions, ppy)
    summary = m.summary(np.zeros_like(positions), positions, ppy)
    for col in range(positions.shape[1]):
        trades, exposure, turnover = ref_positions(positions[:, col].tolist(), ppy)
        one_d = m.position_metrics(positions[:, col], ppy)
        for source in (fast, summary):
            assert source["n_trades"][col] == trades
            assert source["exposure"][col] == pytest.approx(exposure, rel=1e-12)
            assert source["turnover"][col] == pytest.approx(turnover, rel=1e-12)
        assert (one_d["n_trades"], one_d["exposure"]) == (trades, pytest.approx(exposure))
        assert one_d["turnover"] == pytest.approx(turnover, rel=1e-12)


@pytest.mark.parametrize("dtype", [bool, np.int8, np.int64])
def test_position_metrics_accept_integer_and_boolean_positions(dtype: type) -> None:
    raw = np.array([[0, 1], [1, 1], [1, 0], [0, 1], [1, 1]])
    if dtype is not bool:
        raw = raw * np.array([1, -1])  # a short column too
    pos = raw.astype(dtype)
    got = m.position_metrics(pos, periods_per_year=5)
    for col in range(2):
        trades, exposure, turnover = ref_positions([float(x) for x in pos[:, col]], 5)
        assert got["n_trades"][col] == trades
        assert got["exposure"][col] == pytest.approx(exposure)
        assert got["turnover"][col] == pytest.approx(turnover)


def test_integer_positions_with_reversals_and_sizes() -> None:
    pos = np.array([0, 2, -3, -3, 0, 4, 4, -1], dtype=np.int64)
    got = m.position_metrics(pos, periods_per_year=8)
    trades, exposure, turnover = ref_positions([float(x) for x in pos], 8)
    assert (int(got["n_trades"]), float(got["exposure"])) == (trades, exposure) == (4, 0.75)
    # |dp| = 2 + 5 + 0 + 3 + 4 + 0 + 5 = 19 over 8 bars, times 8
    assert float(got["turnover"]) == turnover == 19.0


def test_metrics_of_a_2d_equity_are_computed_per_column() -> None:
    equity = np.array([[110.0, 90.0], [99.0, 99.0], [121.0, 81.0]])
    out = m.equity_metrics(equity, 100.0, periods_per_year=3)
    np.testing.assert_allclose(out["total_return"], [0.21, -0.19])
    np.testing.assert_allclose(out["cagr"], [0.21, -0.19])  # T = ppy: one year
    np.testing.assert_allclose(out["max_drawdown"], [-0.1, -0.19])
    np.testing.assert_array_equal(out["max_drawdown_duration"], [1, 3])


def test_profit_factor_and_win_rate_with_small_trades() -> None:
    # profits and losses below one currency unit count like any other
    assert m.profit_factor(np.array([0.5, -0.2, 0.3])) == pytest.approx(4.0)
    assert m.profit_factor(np.array([0.3, -0.2])) == pytest.approx(1.5)
    assert m.profit_factor(np.array([2.0, 0.5, -1.0])) == pytest.approx(2.5)
    assert m.win_rate(np.array([0.5, -0.2, 0.0, 0.1, -3.0])) == pytest.approx(0.4)


def test_a_trade_open_on_the_first_bar_counts() -> None:
    pos = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, -1.0]])
    got = m.position_metrics(pos)
    np.testing.assert_array_equal(got["n_trades"], [1, 1])
    np.testing.assert_array_equal(m.n_trades(pos), [1, 1])
    assert int(m.position_metrics(np.array([1, 0, 0], dtype=np.int64))["n_trades"]) == 1


def test_one_dimensional_inputs_give_numpy_scalars() -> None:
    r = np.array([0.01, -0.02, 0.015, 0.0])
    for name in ("sharpe_ratio", "sortino_ratio", "calmar_ratio"):
        value = getattr(m, name)(r)
        assert isinstance(value, np.floating), name  # a scalar, not a 0-d array
    assert isinstance(m.sharpe_ratio(np.zeros(3)), np.floating)
    assert m.sharpe_ratio(np.column_stack([r, r])).shape == (2,)


def test_integer_equity_and_object_dtype_returns_are_read_as_floats() -> None:
    # whole-dollar equity curves and object columns (as read from some files) are numbers
    eq_int = np.array([100, 110, 99, 121], dtype=np.int64)
    got = m.equity_metrics(eq_int, 100.0)
    want = m.equity_metrics(eq_int.astype(float), 100.0)
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-12, err_msg=name)
    assert float(got["total_return"]) == pytest.approx(0.21)
    r = [0.01, -0.02, 0.015, 0.0, -0.005]
    obj = pd.Series(r, dtype=object).to_numpy()
    slow = m.summary(obj, np.ones(5))
    fast = m.summary(np.array(r), np.ones(5))
    for name, value in fast.items():
        np.testing.assert_allclose(slow[name], value, rtol=1e-12, err_msg=name)
