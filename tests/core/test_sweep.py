"""Sweeps: the numpy kernel against real vectorbt, grid helpers, ranking and progress.

Every number is checked against an independent computation: real vectorbt backtests
(``Portfolio.from_orders``) for sampled combinations of each sweep.
"""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core.sweep._kernel as kernel
import core.sweep.grid as grid_module
import core.sweep.result as result_module
import core.sweep.run as run_module
from core.backtest import BacktestSpec, run_backtest
from core.data.synthetic import SyntheticSpec, generate
from core.strategies import run_strategy
from core.sweep import equity_curves, rank, sweep, sweep_ma_crossover

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", [kernel, grid_module, result_module, run_module])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0


@pytest.fixture(scope="module")
def sweep_prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=1200, seed=5))[0]


@pytest.mark.parametrize("allow_short", [False, True])
def test_sweep_equals_vectorbt_on_sampled_combinations(
    sweep_prices: pd.DataFrame, allow_short: bool
) -> None:
    spec = BacktestSpec()
    fast, slow = np.arange(5, 60, 4), np.arange(20, 200, 12)
    result = sweep_ma_crossover(sweep_prices, fast, slow, spec, allow_short=allow_short)
    expected_count = sum(1 for f in fast for s in slow if f < s)
    assert result.combinations == expected_count == len(result.table)
    rng = np.random.default_rng(0)
    rows = result.table.iloc[rng.choice(len(result.table), size=5, replace=False)]
    positions = pd.DataFrame(
        {
            (f, s): run_strategy(
                "ma_crossover", sweep_prices, {"fast": f, "slow": s, "allow_short": allow_short}
            )
            for f, s in zip(rows["fast"], rows["slow"], strict=True)
        }
    )
    curves = equity_curves(sweep_prices, positions, spec)
    for (f, s), row in zip(positions.columns, rows.itertuples(), strict=True):
        reference = run_backtest(sweep_prices, positions[(f, s)], spec)  # real vectorbt
        np.testing.assert_allclose(curves[(f, s)], reference.equity, rtol=1e-9)
        assert row.total_return == pytest.approx(reference.metrics["total_return"], rel=1e-9)
        for name in ("sharpe", "max_drawdown", "n_trades", "exposure", "turnover"):
            assert getattr(row, name) == pytest.approx(reference.metrics[name], rel=1e-9), name


def test_generic_sweep_with_constraints_matches_vectorbt(sweep_prices: pd.DataFrame) -> None:
    grid = {"trend_window": [20, 50, 100], "target_vol": [0.1, 0.2], "vol_window": [10, 40]}
    result = sweep(
        "vol_target_trend",
        sweep_prices,
        grid,
        constraints=lambda p: p["vol_window"] < p["trend_window"],
        spec=BacktestSpec(),
        fixed={"allow_short": True},
    )
    assert result.combinations == 10
    best = result.best_params("sharpe")
    reference = run_backtest(sweep_prices, run_strategy("vol_target_trend", sweep_prices, best))
    assert result.best("sharpe")["total_return"] == pytest.approx(
        reference.metrics["total_return"], rel=1e-9
    )
    assert result.best("sharpe")["sharpe"] == pytest.approx(reference.metrics["sharpe"], rel=1e-9)
    with pytest.raises(ValueError, match="has no parameters"):
        sweep("vol_target_trend", sweep_prices, {"speed": [1]})


def test_sweep_result_helpers(sweep_prices: pd.DataFrame) -> None:
    result = sweep("ma_crossover", sweep_prices, {"fast": [5, 10, 40], "slow": [10, 30, 60]})
    assert result.combinations == 6  # fast < slow enforced by the params model
    top = result.top(3, "sharpe")
    assert list(top["sharpe"]) == sorted(top["sharpe"], reverse=True)
    assert result.best("sharpe")["sharpe"] == result.table["sharpe"].max()
    assert result.best("volatility")["volatility"] == result.table["volatility"].min()
    grid = result.pivot(metric="total_return")
    assert grid.shape == (3, 3)
    assert np.isnan(grid.loc[40, 10]) and np.isnan(grid.loc[40, 30])
    # the rate is the combination count over the measured time (not a timing assertion)
    assert result.throughput == pytest.approx(result.combinations / result.seconds, rel=1e-12)
    with pytest.raises(ValueError, match="unknown metric"):
        result.top(1, "alpha")


def test_sweep_path_never_imports_vectorbt_or_numba() -> None:
    code = (
        "import sys, numpy as np\n"
        "from core.data.synthetic import SyntheticSpec, generate\n"
        "from core.sweep import sweep_ma_crossover\n"
        "p, _ = generate(SyntheticSpec(bars=500, seed=1))\n"
        "r = sweep_ma_crossover(p, np.arange(5, 30, 5), np.arange(20, 80, 10))\n"
        "assert r.combinations > 0\n"
        "assert 'vectorbt' not in sys.modules and 'numba' not in sys.modules, 'heavy import'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_progress_is_reported_per_chunk_and_can_stop_the_sweep(
    sweep_prices: pd.DataFrame,
) -> None:
    grid = {"fast": np.arange(5, 45, 5), "slow": np.arange(50, 250, 25)}  # 8 x 8 = 64 pairs
    seen: list[float] = []
    result = sweep("ma_crossover", sweep_prices, grid, chunk_size=16, progress=seen.append)
    assert result.combinations == 64
    # 4 chunks of 16 columns: 0.2, 0.4, 0.6, 0.8; then the orders (0.9) and the end (1.0).
    assert seen == pytest.approx([0.2, 0.4, 0.6, 0.8, 0.9, 1.0])
    reference = sweep("ma_crossover", sweep_prices, grid)
    pd.testing.assert_frame_equal(result.table, reference.table)

    class Stop(Exception):
        pass

    def stop_after_two(fraction: float) -> None:
        if fraction >= 0.4:
            raise Stop

    with pytest.raises(Stop):
        sweep("ma_crossover", sweep_prices, grid, chunk_size=16, progress=stop_after_two)


def test_rank_puts_nan_last_and_lower_is_better_metrics_first() -> None:
    table = pd.DataFrame({"sharpe": [0.5, np.nan, 1.5, 1.0], "turnover": [3.0, 1.0, np.nan, 2.0]})
    assert rank(table, "sharpe")["sharpe"].tolist()[:3] == [1.5, 1.0, 0.5]
    assert np.isnan(rank(table, "sharpe")["sharpe"].iloc[-1])
    assert rank(table, "turnover", 2)["turnover"].tolist() == [1.0, 2.0]
