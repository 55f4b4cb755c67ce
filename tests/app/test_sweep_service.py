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
    # 1000 x 999 = 999,000 raw combinations > 200,000.
    with pytest.raises(ValueError, match="999,000 combinations exceed 200,000"):
        SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="1:1000:1", slow="2:1000:1"))
    # 400 x 500 = 200,000 is exactly the limit and accepted.
    ok = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(fast="1:400", slow="2:501"))
    assert len(ok.grid["fast"].values()) * len(ok.grid["slow"].values()) == 200_000


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


def test_cancelled_sweep_stops_between_chunks_and_saves_nothing() -> None:
    req = SweepRequest(**SP500, strategy="ma_crossover", grid=_grid(**REFERENCE_GRID))
    token, seen = CancelToken(), []

    def progress(fraction: float, text: str) -> None:
        seen.append(fraction)
        if fraction > 0.05:  # the first chunk is done: the user presses stop
            token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        sweep.run_sweep(req, progress=progress, cancel=token)
    # 2,258 pairs in chunks of 256: it stopped at the second chunk, far from the end.
    assert len(seen) == 2 and seen[-1] < 0.2
    assert run_store.list_runs() == []


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
