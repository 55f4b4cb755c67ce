"""The blocked sweep engine and the entry conventions, against independent computations.

- every metric of every combination against :mod:`core.backtest.metrics` applied to the
  exact per-bar equity of :func:`core.sweep.equity_curves` (itself equal to vectorbt);
- blocks of a few bars and a few columns give the same table as one block;
- both entry conventions against vectorbt ``Portfolio.from_signals`` fed with vectorbt's
  own crossover signals (cross) or the held-target signals (state);
- the range queries of :class:`core.sweep._path.PathIndex` against brute force;
- a small smoke test of the numpy lower bound used by ``workbench bench``.
"""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import core.sweep._path as path_module
import core.sweep.bench as bench_module
from core.backtest import BacktestSpec
from core.backtest import metrics as m
from core.data.synthetic import SyntheticSpec, generate
from core.strategies import run_strategy
from core.strategies._indicators import cross_positions
from core.sweep import equity_curves, sweep, sweep_ma_crossover
from core.sweep._path import PathIndex
from core.sweep.bench import bound_sweep, from_signals_equity, grid_pairs
from core.sweep.result import METRICS

FAST, SLOW = np.arange(5, 60, 6), np.arange(20, 200, 15)


@pytest.mark.parametrize("module", [path_module, bench_module])
def test_doctests(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=900, seed=11))[0]


def _reference(
    prices: pd.DataFrame, table: pd.DataFrame, spec: BacktestSpec, **params: object
) -> dict[str, np.ndarray]:
    """Metrics of every row from the exact per-bar equity (dense, no engine shortcut)."""
    positions = pd.DataFrame(
        {
            i: run_strategy("ma_crossover", prices, {"fast": int(f), "slow": int(s), **params})
            for i, (f, s) in enumerate(zip(table["fast"], table["slow"], strict=True))
        }
    )
    equity = equity_curves(prices, positions, spec).to_numpy()
    held = np.vstack([np.zeros((1, positions.shape[1])), positions.to_numpy()[:-1]])
    ppy = spec.periods_per_year
    return {
        **m.equity_metrics(equity, spec.init_cash, ppy),
        **m.position_metrics(held, ppy),
    }


@pytest.mark.parametrize("entry", ["state", "cross"])
@pytest.mark.parametrize("allow_short", [False, True])
def test_every_metric_of_every_pair_matches_the_per_bar_computation(
    prices: pd.DataFrame, entry: str, allow_short: bool
) -> None:
    spec = BacktestSpec()
    result = sweep_ma_crossover(prices, FAST, SLOW, spec, allow_short=allow_short, entry=entry)  # type: ignore[arg-type]
    expected = _reference(prices, result.table, spec, allow_short=allow_short, entry=entry)
    for name in METRICS:
        got = result.table[name].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert result.fixed_params == {"allow_short": allow_short, "entry": entry}


@pytest.mark.parametrize("entry", ["state", "cross"])
@pytest.mark.parametrize("allow_short", [False, True])
def test_tiny_blocks_give_the_same_table_as_one_block(
    prices: pd.DataFrame, entry: str, allow_short: bool
) -> None:
    kwargs = {"allow_short": allow_short, "entry": entry}
    whole = sweep_ma_crossover(prices, FAST, SLOW, block_bars=len(prices), **kwargs)  # type: ignore[arg-type]
    tiny = sweep_ma_crossover(prices, FAST, SLOW, chunk_size=3, block_bars=7, **kwargs)  # type: ignore[arg-type]
    odd = sweep_ma_crossover(prices, FAST, SLOW, chunk_size=5, block_bars=113, **kwargs)  # type: ignore[arg-type]
    for other in (tiny, odd):
        for name in METRICS:
            np.testing.assert_allclose(
                other.table[name].to_numpy(dtype=float),
                whole.table[name].to_numpy(dtype=float),
                rtol=1e-10,
                atol=1e-13,
                err_msg=name,
            )


def test_generic_sweep_with_the_entry_rule_matches_the_fast_path(prices: pd.DataFrame) -> None:
    grid = {"fast": [5, 11, 23], "slow": [35, 80]}
    fast_path = sweep("ma_crossover", prices, grid, fixed={"entry": "cross"})
    assert fast_path.fixed_params == {"entry": "cross"}
    reference = sweep_ma_crossover(prices, grid["fast"], grid["slow"], entry="cross")
    pd.testing.assert_frame_equal(fast_path.table, reference.table)


@pytest.mark.parametrize("entry", ["state", "cross"])
def test_both_entry_conventions_equal_vectorbt_from_signals(
    prices: pd.DataFrame, entry: str
) -> None:
    spec = BacktestSpec()
    result = sweep_ma_crossover(prices, FAST, SLOW, spec, entry=entry)  # type: ignore[arg-type]
    rng = np.random.default_rng(3)
    rows = result.table.iloc[rng.choice(len(result.table), size=6, replace=False)]
    for row in rows.itertuples():
        fast, slow = int(row.fast), int(row.slow)
        reference = from_signals_equity(prices, fast, slow, entry, spec)
        pos = run_strategy("ma_crossover", prices, {"fast": fast, "slow": slow, "entry": entry})
        ours = equity_curves(prices, pd.DataFrame({"c": pos}), spec)["c"].to_numpy()
        np.testing.assert_allclose(ours, reference, rtol=1e-12)
        assert row.total_return == pytest.approx(reference[-1] / spec.init_cash - 1, rel=1e-12)


def test_the_conventions_differ_only_before_the_first_cross(prices: pd.DataFrame) -> None:
    state = run_strategy("ma_crossover", prices, {"fast": 10, "slow": 50}).to_numpy()
    cross = run_strategy("ma_crossover", prices, {"fast": 10, "slow": 50, "entry": "cross"})
    changes = np.flatnonzero(np.diff(state) != 0) + 1
    first_cross = changes[1] if state[changes[0]] == 1 and state[49] == 1 else changes[0]
    assert np.all(cross.to_numpy()[first_cross:] == state[first_cross:])  # no ties here
    assert np.all(cross.to_numpy()[:first_cross] == 0)


def test_cross_rule_on_ties_and_carried_state() -> None:
    # sides: below, tie, above (a cross through the tie), tie, below (a cross), above
    fast = np.array([[1.0, 2.0, 3.0, 2.0, 1.0, 3.0]])
    slow = np.full((1, 6), 2.0)
    pos, side, started = cross_positions(fast, slow, allow_short=True)
    assert pos.tolist() == [[0, 0, 1, 1, -1, 1]]
    assert (int(side[0]), bool(started[0])) == (1, True)
    # the same bars in two blocks, carrying the state, give the same positions
    first = cross_positions(fast[:, :3], slow[:, :3], True)
    second = cross_positions(fast[:, 3:], slow[:, 3:], True, first[1], first[2])
    assert np.concatenate([first[0], second[0]], axis=1).tolist() == pos.tolist()
    # already above when both lines first exist: no position until a real cross
    nan_first = np.array([[np.nan, 3.0, 3.0, 1.0, 3.0]])
    assert cross_positions(nan_first, np.full((1, 5), 2.0))[0].tolist() == [[0, 0, 0, 0, 1]]


def test_path_index_queries_against_brute_force() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 64, 257):
        close = np.round(rng.uniform(1.0, 3.0, n), 1)  # many ties
        index = PathIndex(close)
        lo = rng.integers(0, n, 300)
        hi = np.minimum(n, lo + rng.integers(1, n + 1, 300))
        pairs = list(zip(lo.tolist(), hi.tolist(), strict=True))
        assert index.range_max(lo, hi).tolist() == [close[a:b].max() for a, b in pairs]
        assert index.range_min(lo, hi).tolist() == [close[a:b].min() for a, b in pairs]
        top = index.argmax_right(lo, hi)
        assert top.tolist() == [
            a + int(np.flatnonzero(close[a:b] == close[a:b].max())[-1]) for a, b in pairs
        ]
        expect = [float((close[a:b] / np.maximum.accumulate(close[a:b])).min()) for a, b in pairs]
        assert index.mdd_ratio(lo, hi).tolist() == expect
        scale, threshold = rng.uniform(0.5, 2.0, 300), rng.uniform(1.0, 4.0, 300)
        first = []
        for (a, b), s, t in zip(pairs, scale, threshold, strict=True):
            hits = np.flatnonzero(s * close[a:b] >= t)
            first.append(a + int(hits[0]) if hits.size else b)
        assert index.first_reaching(lo, hi, scale, threshold).tolist() == first
        gaps = []
        for a, b in pairs:
            seg = close[a:b]
            highs = np.flatnonzero(seg >= np.maximum.accumulate(seg))
            gaps.append(int(np.max(np.diff(highs) - 1)) if highs.size > 1 else 0)
        assert index.record_gap(lo, top).tolist() == gaps


def test_numpy_bound_equals_the_kernel_without_costs_when_fills_are_at_the_close() -> None:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(4).normal(0.0003, 0.01, 700)))
    index = pd.bdate_range("2010-01-04", periods=700)
    # filling at the next open equal to this close is the bound's close-to-close holding
    frame = pd.DataFrame({"open": np.r_[close[0], close[:-1]], "close": close}, index=index)
    fast, slow = grid_pairs(np.array([5, 9, 20]), np.array([30, 60]))
    final, sharpe = bound_sweep(close, fast, slow)
    spec = BacktestSpec(fees=0.0, slippage=0.0)
    table = sweep_ma_crossover(frame, fast, slow, spec).table
    np.testing.assert_allclose(table["total_return"], final - 1.0, rtol=1e-9)
    # the kernel also counts bar 0's zero return: T returns against the bound's T - 1
    np.testing.assert_allclose(table["sharpe"], sharpe, rtol=2.0 / len(close))
