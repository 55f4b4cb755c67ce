"""The sweep service and its request, on the real SP500 data.

Golden values are recomputed independently: the combination count by enumerating the
grid, and the best row by a separate vectorbt backtest of its parameters.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.operations import Cancelled, CancelToken
from app.operations.backtest import BacktestRequest
from app.operations.sweep import SweepRequest
from app.services import runs as run_store
from app.services import sweep
from app.services.backtest import reopen_backtest, run_backtest
from core.sweep import GridAxis
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)

SP500 = {"dataset": "ohlcv_daily", "symbol": "SP500"}
REFERENCE_GRID = {"fast": "5:103:2", "slow": "20:412:8"}


def test_grid_axis_parse_integer_range() -> None:
    values = GridAxis.parse("5:103:2").values()
    assert values.dtype == np.int64
    assert len(values) == 50
    assert values[0] == 5 and values[-1] == 103
    assert np.all(np.diff(values) == 2)
    # A stop that is not on the grid is not reached; step defaults to 1.
    assert GridAxis.parse("5:104:2").values().tolist() == values.tolist()
    assert GridAxis.parse("3:7").values().tolist() == [3, 4, 5, 6, 7]
    assert len(GridAxis.parse("20:412:8").values()) == 50


def test_grid_axis_parse_float_range() -> None:
    values = GridAxis.parse("0.5:1.5:0.25").values()
    assert values.dtype == np.float64
    assert values.tolist() == [0.5, 0.75, 1.0, 1.25, 1.5]
    # 0.1 steps accumulate binary error; the points are rounded and the stop is included.
    assert GridAxis.parse("0.1:0.3:0.1").values().tolist() == [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "must look like start:stop:step"),
        ("1:2:3:4", "must look like start:stop:step"),
        ("a:b:c", "must contain numbers"),
        ("10:5:1", "stop 5.0 is below start 10.0"),
        ("1:5:0", "greater than 0"),
        ("1:5:-1", "greater than 0"),
    ],
)
def test_grid_axis_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GridAxis.parse(text)


def _grid(**axes: str) -> dict[str, GridAxis]:
    return {name: GridAxis.parse(text) for name, text in axes.items()}


def test_sweep_request_rejects_unknown_grid_param() -> None:
    with pytest.raises(ValueError, match=r"ma_crossover has no parameters \['window'\]"):
        SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="5:10", window="2:4"))


def test_sweep_request_rejects_unknown_strategy_and_empty_grid() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        SweepRequest(**SP500, strategy="nope", grid=_grid(fast="5:10"))
    with pytest.raises(ValueError, match="at least one parameter range"):
        SweepRequest(**SP500, strategy="ma_crossover", grid={})


def test_sweep_request_rejects_too_many_combinations() -> None:
    # 2000 x 999 = 1,998,000 raw combinations > 1,000,000.
    with pytest.raises(ValueError, match="1,998,000 combinations exceed 1,000,000"):
        SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="1:2000:1", slow="2:1000:1"))
    # 1000 x 1000 = 1,000,000 is exactly the limit and accepted.
    ok = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="1:1000", slow="2:1001"))
    assert len(ok.grid["fast"].values()) * len(ok.grid["slow"].values()) == 1_000_000


def test_reference_sweep_count_best_row_and_round_trip() -> None:
    req = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(**REFERENCE_GRID))
    out = sweep.run_sweep(req)

    fast = np.arange(5, 104, 2)
    slow = np.arange(20, 413, 8)
    expected_pairs = {(int(f), int(s)) for f in fast for s in slow if f < s}
    assert len(expected_pairs) == 2258
    assert out.combinations == 2258 == len(out.table)
    pairs = set(zip(out.table["fast"].tolist(), out.table["slow"].tolist(), strict=True))
    assert pairs == expected_pairs
    assert out.param_names == ("fast", "slow")
    assert out.metric == "sharpe"

    best_sharpe = out.table["sharpe"].max()
    assert out.best["sharpe"] == best_sharpe
    assert out.best["fast"] < out.best["slow"]
    assert out.top(1)["sharpe"].iloc[0] == best_sharpe
    top5 = out.top(5)["sharpe"].to_numpy()
    assert np.all(np.diff(top5) <= 0)

    single = run_backtest(
        BacktestRequest(
            **SP500,
            strategy="ma_crossover",
            params={"fast": int(out.best["fast"]), "slow": int(out.best["slow"])},
        ),
        save=False,
    )
    assert single.metrics["sharpe"] == pytest.approx(out.best["sharpe"], rel=1e-9, abs=1e-12)
    assert single.metrics["total_return"] == pytest.approx(
        out.best["total_return"], rel=1e-9, abs=1e-12
    )
    assert single.metrics["n_trades"] == out.best["n_trades"]

    assert out.run_id is not None
    back = sweep.reopen_sweep(out.run_id)
    assert back.request == req
    assert back.combinations == 2258
    assert back.param_names == ("fast", "slow")
    assert back.seconds == pytest.approx(out.seconds)
    pd.testing.assert_frame_equal(back.table, out.table)
    assert back.best == pytest.approx(out.best)
    pd.testing.assert_frame_equal(back.top(3), out.top(3))
    with pytest.raises(LookupError, match="is a sweep, not a backtest"):
        reopen_backtest(out.run_id)


def test_sweep_ranked_by_lower_is_better_metric_and_progress() -> None:
    req = SweepRequest(
        **SP500,
        strategy="ma_crossover",
        grid=_grid(fast="10:30:10", slow="20:60:20"),
        metric="volatility",
    )
    seen: list[float] = []
    out = sweep.run_sweep(req, save=False, progress=lambda f, _text: seen.append(f))
    # fast in {10, 20, 30}, slow in {20, 40, 60}: pairs with fast < slow.
    assert out.combinations == 7
    assert out.run_id is None
    assert out.best["volatility"] == out.table["volatility"].min()
    assert seen[0] < seen[-1] == 1.0
    assert run_store.list_runs() == []


def test_sweep_with_no_valid_combination_is_an_error() -> None:
    req = SweepRequest(
        **SP500, strategy="ma_crossover", grid=_grid(fast="50:60:5", slow="20:40:10")
    )
    with pytest.raises(ValueError, match="no combination satisfies"):
        sweep.run_sweep(req)
    assert run_store.list_runs() == []


# 200 fast x 500 slow = 100,000 raw combinations: five chunks of 20,000.
FIVE_CHUNKS = {"fast": "1:200", "slow": "2:501"}


def test_cancelled_sweep_stops_between_chunks_and_saves_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    req = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(**FIVE_CHUNKS))
    token, seen = CancelToken(), []

    def progress(fraction: float, text: str) -> None:
        seen.append((round(fraction, 4), text))
        if fraction > 0.05:  # the first chunk is done: the user presses stop
            token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        sweep.run_sweep(req, progress=progress, cancel=token)
    assert seen[0] == (0.02, "Sweeping 100,000 raw combos in 5 chunks")
    fractions = [fraction for fraction, _ in seen]
    assert len(seen) >= 2 and fractions == sorted(fractions)  # progress inside chunk 1 moves
    assert max(fractions) <= 0.2  # stopped in or right after the first chunk, never a second
    assert not any(text.startswith(("chunk 2 of 5", "2 of 5")) for _, text in seen)
    assert run_store.list_runs() == []


def test_a_sweep_killed_mid_way_resumes_from_its_cached_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import core.sweep.chunked as chunked

    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    calls: list[int] = []
    real = chunked.sweep_chunk

    def counted(chunk: chunked.SweepChunk, **shared: object) -> pd.DataFrame:
        calls.append(chunk.index)
        return real(chunk, **shared)  # type: ignore[arg-type]

    monkeypatch.setattr(chunked, "sweep_chunk", counted)
    req = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(**FIVE_CHUNKS))
    token = CancelToken()

    def kill_after_two(fraction: float, text: str) -> None:
        if text.startswith("2 of 5 chunks"):
            token.cancel("worker killed")  # the job dies after two chunks

    with pytest.raises(Cancelled):
        sweep.run_sweep(req, progress=kill_after_two, cancel=token)
    assert calls == [0, 1]
    calls.clear()
    resumed = sweep.run_sweep(req)  # the retried job
    assert calls == [2, 3, 4]  # only the chunks not done before
    calls.clear()
    fresh = sweep.run_sweep(req)  # a saved run drops its cache: a new run recomputes all
    assert calls == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(resumed.table, fresh.table, check_exact=True)
    assert resumed.combinations == sum(1 for f in range(1, 201) for s in range(2, 502) if f < s)
    assert resumed.chunks == 5


def test_stored_table_is_bit_identical_to_the_serial_core_sweep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.services.data import load_prices
    from core.strategies.catalog import grid_constraints
    from core.sweep import sweep as core_sweep
    from core.sweep.chunked import chunk_block_bars

    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    req = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="1:60", slow="2:801"))
    out = sweep.run_sweep(req)  # 48,000 raw: three chunks
    grid = {name: axis.values() for name, axis in req.grid.items()}
    reference = core_sweep(
        "ma_crossover",
        load_prices("ohlcv_daily", "SP500"),
        grid,
        grid_constraints("ma_crossover", grid),
        req.spec(),
        block_bars=chunk_block_bars(48_000),
    )
    assert out.chunks == 3
    back = sweep.reopen_sweep(out.run_id or 0)
    pd.testing.assert_frame_equal(back.table, reference.table, check_exact=True)
    pd.testing.assert_frame_equal(back.top(50), reference.top(50), check_exact=True)
    pd.testing.assert_frame_equal(back.heatmap, reference.pivot(), check_exact=True)
    assert back.best == out.best


def test_sweep_runs_through_its_operation_descriptor() -> None:
    from app.operations import get

    op = get("sweep")
    req = SweepRequest(
        **SP500, strategy="ma_crossover", grid=_grid(fast="10:30:10", slow="20:60:20")
    )
    out = op.run(req)
    payload = op.payload(out)
    assert payload["combinations"] == 7 == out.combinations
    assert payload["best"]["sharpe"] == out.table["sharpe"].max()
    assert [row["sharpe"] for row in payload["top"]] == sorted(out.table["sharpe"], reverse=True)
    (saved,) = run_store.list_runs()
    assert saved.id == payload["run_id"] and saved.metrics["combinations"] == 7


UNIVERSE_GRID = {"fast": "10:50:10", "slow": "20:100:20"}  # 19 valid pairs per symbol


def test_universe_sweep_table_best_per_symbol_and_dsr_over_all_trials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import json
    import math

    from scipy import stats

    from app.operations import get
    from app.services.data import symbols_of

    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    req = SweepRequest(
        dataset="ohlcv_daily",
        strategy="ma_crossover",
        grid=_grid(**UNIVERSE_GRID),
        all_symbols=True,
    )
    out = sweep.run_sweep(req)
    symbols = symbols_of("ohlcv_daily")
    pairs = sum(1 for f in range(10, 51, 10) for s in range(20, 101, 20) if f < s)
    assert pairs == 19 and out.combinations == 19 * len(symbols) == len(out.table)
    assert out.universe is not None and list(out.universe.symbols) == symbols
    assert out.table["symbol"].tolist() == [s for s in symbols for _ in range(19)]
    best = out.universe.best_by_symbol
    for symbol in symbols:
        rows = out.table[out.table["symbol"] == symbol]
        row = best[best["symbol"] == symbol].iloc[0]
        assert row["sharpe"] == rows["sharpe"].max()
    assert out.heatmap is not None and list(out.heatmap.index) == symbols
    assert (
        out.heatmap.loc["IBM", 10]
        == out.table.query("symbol == 'IBM' and fast == 10")["sharpe"].max()
    )

    # The DSR from the formula (Bailey & Lopez de Prado), on a vectorbt backtest of the best.
    top = out.best
    single = run_backtest(
        BacktestRequest(
            dataset="ohlcv_daily",
            symbol=top["symbol"],
            strategy="ma_crossover",
            params={"fast": top["fast"], "slow": top["slow"]},
        ),
        save=False,
    )
    r = single.returns.to_numpy()
    n_trials = 19 * len(symbols)  # combinations x symbols
    per_period = out.table["sharpe"].to_numpy() / math.sqrt(req.spec().periods_per_year)
    variance = float(np.var(per_period, ddof=1))
    gamma = 0.5772156649015329
    sr0 = math.sqrt(variance) * (
        (1 - gamma) * stats.norm.ppf(1 - 1 / n_trials)
        + gamma * stats.norm.ppf(1 - 1 / (n_trials * math.e))
    )
    sr = r.mean() / r.std(ddof=1)
    skew, kurt = stats.skew(r, bias=False), stats.kurtosis(r, fisher=False, bias=False)
    z = (sr - sr0) * math.sqrt(len(r) - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    dsr = out.universe.dsr
    assert dsr["trials"] == n_trials
    assert dsr["sr0"] == pytest.approx(sr0, rel=1e-9)
    assert dsr["dsr"] == pytest.approx(stats.norm.cdf(z), rel=1e-6)

    payload = get("sweep").payload(out)
    assert payload["universe"]["trials"] == n_trials
    assert [row["symbol"] for row in payload["universe"]["best_by_symbol"]] == symbols
    json.dumps(payload)
    back = sweep.reopen_sweep(out.run_id or 0)
    assert back.request == req and back.request.all_symbols
    assert back.universe is not None and back.universe.dsr == pytest.approx(dsr)
    pd.testing.assert_frame_equal(back.universe.best_by_symbol, best)
    pd.testing.assert_frame_equal(back.heatmap, out.heatmap, check_exact=True)
    pd.testing.assert_frame_equal(back.table, out.table, check_exact=True)


def test_universe_on_a_local_cluster_equals_serial(
    monkeypatch: pytest.MonkeyPatch, dask_client: object
) -> None:
    req = SweepRequest(
        dataset="ohlcv_daily",
        strategy="ma_crossover",
        grid=_grid(**UNIVERSE_GRID),
        all_symbols=True,
    )
    from core.cluster import ChunkCache

    monkeypatch.setenv("WORKBENCH_EXECUTOR", "dask")
    on_dask = sweep.run_sweep(req, save=False)
    assert not any(ChunkCache.default_root().glob("*/chunk-*"))  # serial computes afresh
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "serial")
    serial = sweep.run_sweep(req, save=False)
    pd.testing.assert_frame_equal(on_dask.table, serial.table, check_exact=True)
    assert on_dask.universe is not None and serial.universe is not None
    assert on_dask.universe.dsr == serial.universe.dsr


def test_universe_request_refuses_a_symbol_too() -> None:
    with pytest.raises(ValueError, match=r"give either a symbol \(IBM\) or all symbols, not both"):
        SweepRequest(
            dataset="ohlcv_daily", symbol="IBM", grid=_grid(**UNIVERSE_GRID), all_symbols=True
        )
    spec = SweepRequest(grid=_grid(**UNIVERSE_GRID), all_symbols=True).model_dump(mode="json")
    assert "symbol" not in spec and SweepRequest.model_validate(spec).all_symbols
