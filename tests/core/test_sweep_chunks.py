"""Chunked sweeps (core.sweep.chunked): identical, to the last bit, to core.sweep.sweep in
serial and on a 2-worker LocalCluster; the bounded top-N, best rows and heatmaps equal
what the full table gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestSpec
from core.data.synthetic import SyntheticSpec, generate
from core.strategies.catalog import grid_constraints
from core.sweep import rank, sweep
from core.sweep.chunked import (
    SYMBOL,
    SweepReducer,
    chunk_block_bars,
    constraint_mask,
    pivot_stored,
    plan_chunks,
    rank_stored,
    stored_rows,
    sweep_chunk,
    sweep_chunked,
)
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)

MA_GRID = {"fast": np.arange(3, 40, 2), "slow": np.arange(10, 160, 5)}  # 570 raw


@pytest.fixture(scope="module")
def prices() -> dict[str, pd.DataFrame]:
    return {
        "AAA": generate(SyntheticSpec(bars=1200, seed=5))[0],
        "BBB": generate(SyntheticSpec(bars=900, seed=9))[0],
    }


def _chunked(prices: dict[str, pd.DataFrame], tmp: Path, **kw: Any) -> Any:
    grid = kw.pop("grid", MA_GRID)
    strategy = kw.pop("strategy", "ma_crossover")
    return sweep_chunked(
        strategy,
        prices,
        grid,
        grid_constraints(strategy, grid),
        BacktestSpec(fees=0.001, slippage=0.0005),
        kw.pop("metric", "sharpe"),
        table_path=tmp / "table.parquet",
        **kw,
    )


@pytest.mark.parametrize(
    ("strategy", "grid", "fixed"),
    [
        ("ma_crossover", MA_GRID, {}),
        ("ma_crossover", MA_GRID, {"allow_short": True}),  # the bar-by-bar (general) path
        ("donchian_breakout", {"window": np.arange(5, 60, 6), "exit_window": [5, 10, 20]}, {}),
    ],
)
@pytest.mark.parametrize("executor", ["serial", "dask"])
def test_chunked_table_is_bit_identical_to_the_serial_sweep(
    prices: dict[str, pd.DataFrame],
    tmp_path: Path,
    strategy: str,
    grid: dict[str, Any],
    fixed: dict[str, Any],
    executor: str,
    dask_client: Any,
) -> None:
    one = {"AAA": prices["AAA"]}
    result = _chunked(
        one,
        tmp_path,
        strategy=strategy,
        grid=grid,
        fixed=fixed,
        executor=executor,
        chunk_combos=97 if strategy == "ma_crossover" else 7,  # cuts through grid rows
        block_bars=256,  # 5 time blocks: the carried state crosses block boundaries
    )
    reference = sweep(
        strategy,
        one["AAA"],
        grid,
        grid_constraints(strategy, grid),
        BacktestSpec(fees=0.001, slippage=0.0005),
        fixed=fixed,
        block_bars=256,
    )
    assert result.chunks > 3 and result.block_bars == 256
    pd.testing.assert_frame_equal(result.table(), reference.table, check_exact=True)
    assert result.combinations == reference.combinations
    for name in ("sharpe", "total_return", "max_drawdown", "turnover"):
        assert np.array_equal(
            result.table()[name].to_numpy(), reference.table[name].to_numpy(), equal_nan=True
        )


def test_default_blocks_agree_with_the_default_sweep_when_the_grid_is_one_block(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    one = {"AAA": prices["AAA"]}
    result = _chunked(one, tmp_path, chunk_combos=100)
    assert result.block_bars == chunk_block_bars(570, 100) >= 1200
    reference = sweep(
        "ma_crossover",
        one["AAA"],
        MA_GRID,
        grid_constraints("ma_crossover", MA_GRID),
        BacktestSpec(fees=0.001, slippage=0.0005),
    )
    pd.testing.assert_frame_equal(result.table(), reference.table, check_exact=True)


def test_bounded_results_equal_the_full_table(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    one = {"AAA": prices["AAA"]}
    for metric in ("sharpe", "volatility"):
        result = _chunked(one, tmp_path, chunk_combos=50, top_n=25, metric=metric)
        table = result.table()
        expected_top = rank(table, metric, 25)
        pd.testing.assert_frame_equal(result.top, expected_top, check_exact=True)
        heat = table.pivot_table(index="fast", columns="slow", values=metric, aggfunc="max")
        pd.testing.assert_frame_equal(result.heatmap, heat, check_exact=True)
        pd.testing.assert_frame_equal(result.best_by_symbol, expected_top.head(1))
    finite = table["sharpe"].to_numpy()
    finite = finite[np.isfinite(finite)]
    assert result.sharpe_trials == finite.size
    assert result.sharpe_variance == pytest.approx(np.var(finite, ddof=1), rel=1e-12)


def test_ties_rank_in_grid_order_in_both_paths(tmp_path: Path) -> None:
    # a flat price: every combination has the same (NaN / zero) metrics, all ties
    flat = pd.DataFrame(
        {"close": np.full(300, 100.0)}, index=pd.bdate_range("2020-01-01", periods=300)
    )
    result = _chunked({"F": flat}, tmp_path, chunk_combos=40, top_n=30, metric="total_return")
    table = result.table()
    assert table["total_return"].nunique() == 1
    pd.testing.assert_frame_equal(result.top, table.head(30), check_exact=True)


def test_universe_table_best_rows_and_heatmap(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    result = _chunked(prices, tmp_path, chunk_combos=120, top_n=10)
    table = result.table()
    assert list(table.columns[:3]) == [SYMBOL, "fast", "slow"]
    parts = []
    for symbol, frame in prices.items():
        ref = sweep(
            "ma_crossover",
            frame,
            MA_GRID,
            grid_constraints("ma_crossover", MA_GRID),
            BacktestSpec(fees=0.001, slippage=0.0005),
            block_bars=result.block_bars,
        ).table
        ref.insert(0, SYMBOL, symbol)
        parts.append(ref)
    pd.testing.assert_frame_equal(table, pd.concat(parts, ignore_index=True), check_exact=True)
    assert result.combinations == len(table) == sum(result.combinations_by_symbol.values())
    assert result.raw_combinations == 570 * 2
    best = pd.concat([rank(table[table[SYMBOL] == s], "sharpe", 1) for s in prices])
    pd.testing.assert_frame_equal(result.best_by_symbol, best, check_exact=True)
    heat = table.groupby([SYMBOL, "fast"])["sharpe"].max().unstack("fast")
    heat = heat.loc[list(prices)]
    pd.testing.assert_frame_equal(result.heatmap, heat, check_exact=True, check_names=False)
    pd.testing.assert_frame_equal(result.top, rank(table, "sharpe", 10), check_exact=True)


def test_reducer_writes_grid_order_whatever_the_arrival_order(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    frames = {"AAA": prices["AAA"]}
    chunks = plan_chunks(570, ["AAA"], 60)
    shared = {
        "strategy": "ma_crossover",
        "prices": frames,
        "axes": MA_GRID,
        "constraints": grid_constraints("ma_crossover", MA_GRID),
        "fixed": {},
        "spec": BacktestSpec(),
        "block_bars": 5000,
    }
    tables = [sweep_chunk(c, **shared) for c in chunks]
    outputs = []
    variances: list[float] = []
    for order in (range(len(chunks)), [3, 0, 9, 1, 2, 8, 7, 4, 5, 6]):
        path = tmp_path / f"t{len(outputs)}.parquet"
        reducer = SweepReducer(chunks, MA_GRID, "sharpe", top_n=5, table_path=path)
        for i in order:
            reducer(i, tables[i])
        reducer.close()
        outputs.append((pd.read_parquet(path), reducer.top, reducer.heatmap))
        variances.append(reducer.sharpe.variance)
        assert not list(tmp_path.glob(".spill-*/*"))
    pd.testing.assert_frame_equal(outputs[0][0], pd.concat(tables, ignore_index=True))
    for a, b in zip(outputs[0], outputs[1], strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert variances[0] == variances[1]  # moments combined in chunk order, not arrival


def test_plan_and_blocks_do_not_depend_on_workers() -> None:
    chunks = plan_chunks(1_000_000, ["A", "B"])
    assert len(chunks) == 100 and chunks[49].hi == 1_000_000 and chunks[50].symbol == "B"
    assert [c.index for c in chunks] == list(range(100))
    assert chunk_block_bars(1_000_000) == 600 == chunk_block_bars(20_000)


def test_slices_hold_equal_numbers_of_valid_combinations() -> None:
    """fast < slow on a 300 x 300 grid keeps 299 pairs of the first fast row and none of
    the last: the slices are cut where the valid pairs (counted independently, by
    brute force over the raw grid) reach equal shares, contiguous and in grid order."""
    fast = slow = np.arange(2, 302)
    axes = {"fast": fast, "slow": slow}
    mask = constraint_mask(axes, grid_constraints("ma_crossover", list(axes)))
    assert mask is not None
    brute = np.array([f < s for f in fast.tolist() for s in slow.tolist()])
    np.testing.assert_array_equal(mask, brute)
    chunks = plan_chunks(brute.size, ["A", "B"], 9_000, brute)
    per_symbol = 10  # ceil(90,000 / 9,000), as without constraints
    assert len(chunks) == 2 * per_symbol and [c.index for c in chunks] == list(range(20))
    a = chunks[:per_symbol]
    assert a[0].lo == 0 and a[-1].hi == brute.size
    assert all(a[k].hi == a[k + 1].lo for k in range(len(a) - 1))
    valid = [int(brute[c.lo : c.hi].sum()) for c in a]
    share = brute.sum() / per_symbol
    assert max(valid) - min(valid) <= 300 and abs(valid[0] - share) <= 300
    raw = [c.hi - c.lo for c in a]
    assert raw[-1] > 5 * raw[0]  # the last slices are long in raw combinations
    assert [(c.lo, c.hi) for c in chunks[per_symbol:]] == [(c.lo, c.hi) for c in a]
    assert constraint_mask(axes, []) is None


def test_serial_chunks_stop_inside_a_long_chunk(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    class Stop(Exception):
        pass

    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls > 3:  # map_chunks' check before the chunk, then the engine's column chunks
            raise Stop

    reduced: list[int] = []
    grid = {"window": np.arange(5, 400, 1), "exit_window": [5, 10]}  # 790 combos, 1 chunk
    with pytest.raises(Stop):
        sweep_chunked(
            "donchian_breakout",
            {"AAA": prices["AAA"]},
            grid,
            check=check,
            progress=lambda f, m: reduced.append(1),
            table_path=tmp_path / "t.parquet",
        )
    assert reduced == [] and calls == 4  # stopped inside the only chunk, after 3 of 13


def test_a_first_chunk_with_no_valid_combination_keeps_the_column_types(
    prices: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    grid = {"fast": np.array([60, 70]), "slow": np.arange(20, 201, 10)}
    # chunk 0 is fast=60 x slow 20..60: no fast < slow pair in it
    result = _chunked({"AAA": prices["AAA"]}, tmp_path, grid=grid, chunk_combos=5)
    reference = sweep(
        "ma_crossover",
        prices["AAA"],
        grid,
        grid_constraints("ma_crossover", grid),
        BacktestSpec(fees=0.001, slippage=0.0005),
        block_bars=result.block_bars,
    )
    assert result.table()["n_trades"].dtype == reference.table["n_trades"].dtype
    pd.testing.assert_frame_equal(result.table(), reference.table, check_exact=True)


@pytest.mark.parametrize("metric", ["sortino", "volatility", "n_trades"])
def test_stored_table_ranked_and_pivoted_in_batches_equal_the_whole_table(
    prices: dict[str, pd.DataFrame], tmp_path: Path, metric: str
) -> None:
    """rank_stored / pivot_stored, reading 37 rows at a time, give what rank and
    pivot_table give on the whole table (ties in table order: n_trades has many;
    volatility ranks ascending); NaN metrics (planted) rank last."""
    result = _chunked({"AAA": prices["AAA"]}, tmp_path, chunk_combos=100)
    table = pd.read_parquet(result.table_path)
    table.loc[[0, 5, 11], metric] = np.nan  # planted NaN rows
    path = tmp_path / "with_nan.parquet"
    table.to_parquet(path, index=False)
    assert stored_rows(path) == len(table) == result.combinations
    assert table[metric].duplicated().any()  # ties exist for the stable order to matter
    for n in (1, 10, len(table) + 5):
        pd.testing.assert_frame_equal(
            rank_stored(path, metric, n, batch_rows=37), rank(table, metric, n), check_exact=True
        )
    heat = table.pivot_table(index="fast", columns="slow", values=metric, aggfunc="max")
    pd.testing.assert_frame_equal(
        pivot_stored(path, "fast", "slow", metric, batch_rows=37),
        heat,
        check_exact=True,
    )
