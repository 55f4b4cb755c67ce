"""The Sweep page, driven through the router like a user: grid, run, heatmap, reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app import state
from app.services import jobs
from app.services import runs as run_store
from app.services.sweep import reopen_sweep
from tests.pages.helpers import (
    MAIN,
    RUN_SWEEP,
    chart_spec,
    metrics,
    open_app,
    plotly_array,
    submit_sweep,
    trace_types,
)


def test_sweep_shows_combination_count_and_heatmap() -> None:
    at = open_app("sweep")
    submit_sweep(at, {"fast": (5, 50, 5), "slow": (20, 200, 20)})
    assert jobs.run_pending() == 1  # the sweep runs as a job (a worker's work)
    at.run()

    fast, slow = np.arange(5, 51, 5), np.arange(20, 201, 20)
    expected = sum(1 for f in fast for s in slow if f < s)
    assert expected == 90  # 3 (slow 20) + 7 (slow 40) + 8 x 10
    shown = metrics(at)
    assert shown["Combinations"] == f"{expected:,}"
    assert trace_types(at) == ["heatmap"]

    (saved,) = run_store.list_runs()
    assert saved.kind == "sweep" and saved.metrics["combinations"] == expected
    best = reopen_sweep(saved.id).table["sharpe"].max()
    assert shown["Best sharpe"] == f"{best:.2f}"


def test_huge_sweep_axis_is_refused_beside_its_row_before_any_work() -> None:
    at = open_app("sweep")
    at.number_input(key="sw.ma_crossover.fast.lo").set_value(1)
    at.number_input(key="sw.ma_crossover.fast.hi").set_value(10**15)
    at.number_input(key="sw.ma_crossover.fast.step").set_value(1)
    at.button(key=RUN_SWEEP).click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert (
        "Fast: the range 1:1e+15:1 has 1e+15 points, more than the cap of 1,000,000; "
        "use a larger step or a narrower range." in errors
    ), errors
    assert "Fix the grid ranges marked above; nothing was run." in errors
    assert run_store.list_runs() == [] and jobs.list_jobs() == []


def test_sweep_axis_outside_the_declared_range_is_refused() -> None:
    at = open_app("sweep")
    at.number_input(key="sw.ma_crossover.fast.lo").set_value(0)
    at.button(key=RUN_SWEEP).click().run()
    errors = [e.value for e in at.error]
    assert any(
        "Fast: the range 0:80:1 goes outside the valid range: fast must be an integer in [1, "
        "100000]" in e
        for e in errors
    ), errors
    assert run_store.list_runs() == [] and jobs.list_jobs() == []


def test_sweep_over_the_combination_cap_is_a_plain_message() -> None:
    at = open_app("sweep")
    for name, (lo, hi) in {"fast": (1, 2000), "slow": (2, 1000)}.items():
        at.number_input(key=f"sw.ma_crossover.{name}.lo").set_value(lo)
        at.number_input(key=f"sw.ma_crossover.{name}.hi").set_value(hi)
    at.button(key=RUN_SWEEP).click().run()
    errors = [e.value for e in at.error]
    assert errors == [
        "1,998,000 combinations exceed 1,000,000 (2,000 fast x 999 slow); use larger steps."
    ], errors
    assert run_store.list_runs() == [] and jobs.list_jobs() == []


def _store_sweep() -> int:
    from app.operations.sweep import SweepRequest
    from app.services.sweep import run_sweep
    from core.sweep import GridAxis

    request = SweepRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        grid={"fast": GridAxis.parse("10:30:10"), "slow": GridAxis.parse("20:60:20")},
    )
    outcome = run_sweep(request)
    assert outcome.run_id is not None and outcome.combinations == 7
    return outcome.run_id


def test_saved_sweep_reopens_from_its_picker() -> None:
    run_id = _store_sweep()
    at = open_app("sweep")
    assert at.title[0].value == "Sweep"
    assert metrics(at) == {}  # nothing open yet
    assert at.selectbox(key="sweep.saved").value == run_id
    at.button(key="sweep.reopen").click().run()
    assert not at.exception
    assert any(f"Sweep #{run_id}: ma_crossover on SP500" in h.value for h in at.subheader)
    shown = metrics(at)
    assert shown["Combinations"] == "7"
    assert shown["Best sharpe"] == f"{reopen_sweep(run_id).table['sharpe'].max():.2f}"


def test_a_sweep_reopened_on_the_backtest_page_opens_on_the_sweep_page() -> None:
    run_id = _store_sweep()
    at = open_app("backtest")
    at.selectbox(key="saved.choice").set_value(run_id)
    at.button(key="saved.reopen").click().run()
    assert not at.exception
    assert any(f"Run #{run_id} reopened in the Sweep page" in s.value for s in at.success)
    assert metrics(at) == {}  # the Backtest page shows no sweep
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "sweep.py")).run()
    assert not at.exception
    assert any(f"Sweep #{run_id}" in h.value for h in at.subheader)
    assert metrics(at)["Combinations"] == "7"


def _run_folder(run_id: int) -> Path:
    return Path(run_store.get_run(run_id).artifact_path or "")


def _downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_a_sweep_reopens_without_its_table_file() -> None:
    """The page draws the stored heatmap and top rows of a sweep whose full table is
    gone (deleted after the run): any read of the table would raise here. The download
    says the file is missing; another ranking metric falls back to the sweep's."""
    run_id = _store_sweep()
    folder = _run_folder(run_id)
    stored_top = pd.read_parquet(folder / "top.parquet")
    table_path = folder / "table.parquet"
    table_path.unlink()
    at = open_app("sweep")
    at.button(key="sweep.reopen").click().run()
    assert not at.exception, at.exception
    shown = metrics(at)
    assert shown["Combinations"] == "7"
    assert shown["Best sharpe"] == f"{stored_top['sharpe'].iloc[0]:.2f}"
    assert trace_types(at) == ["heatmap"]
    (top,) = at.dataframe
    assert top.value["sharpe"].tolist() == stored_top["sharpe"].tolist()  # 7 rows < 15
    assert _downloads(at) == []
    assert any(
        f"cannot be downloaded: its file {table_path} is missing" in w.value for w in at.warning
    ), [w.value for w in at.warning]

    at.session_state[state.SW_METRIC] = "sortino"  # the form's last metric
    at.run()
    assert not at.exception, at.exception
    assert any("Ranked by sharpe (the sweep's metric), not sortino" in w.value for w in at.warning)
    assert metrics(at)["Best sharpe"] == f"{stored_top['sharpe'].iloc[0]:.2f}"


def test_the_full_table_is_offered_as_the_stored_file() -> None:
    run_id = _store_sweep()
    size = (_run_folder(run_id) / "table.parquet").stat().st_size
    at = open_app("sweep")
    at.button(key="sweep.reopen").click().run()
    assert not at.exception, at.exception
    assert _downloads(at) == [
        f"Download the table (Parquet, {max(1, round(size / 1024))} KB)",
        "Download the table (CSV)",
    ]


def test_another_metric_ranks_and_maps_from_the_stored_table() -> None:
    """Ranked by sortino (not the sweep's metric): the top rows and the heatmap are those
    of the full table, read from its file."""
    run_id = _store_sweep()
    table = pd.read_parquet(_run_folder(run_id) / "table.parquet")
    at = open_app("sweep")
    at.session_state[state.SW_METRIC] = "sortino"
    at.button(key="sweep.reopen").click().run()
    assert not at.exception, at.exception
    assert metrics(at)["Best sortino"] == f"{table['sortino'].max():.2f}"
    heat = table.pivot_table(index="fast", columns="slow", values="sortino", aggfunc="max")
    z = plotly_array(chart_spec(at)["data"][0]["z"]).astype(float)
    np.testing.assert_array_equal(z, heat.to_numpy())


def test_an_old_sweep_without_a_heatmap_gets_one_derived_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run saved without heatmap.parquet: a small table gives it (stored beside the
    run, so the next reopen reads it); above the row bound the page says it is not stored."""
    from app.services import sweep_heat

    run_id = _store_sweep()
    folder = _run_folder(run_id)
    stored = pd.read_parquet(folder / "heatmap.parquet")
    (folder / "heatmap.parquet").unlink()
    monkeypatch.setattr(sweep_heat, "SMALL_TABLE_ROWS", 6)  # the 7-row table is "big"
    at = open_app("sweep")
    at.button(key="sweep.reopen").click().run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 0
    assert any("No heatmap" in i.value for i in at.info), [i.value for i in at.info]
    assert not (folder / "heatmap.parquet").exists()

    monkeypatch.setattr(sweep_heat, "SMALL_TABLE_ROWS", 200_000)
    at.run()
    assert not at.exception, at.exception
    assert trace_types(at) == ["heatmap"]
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "heatmap.parquet"), stored)
    table = pd.read_parquet(folder / "table.parquet")
    heat = table.pivot_table(index="fast", columns="slow", values="sharpe", aggfunc="max")
    z = plotly_array(chart_spec(at)["data"][0]["z"]).astype(float)
    np.testing.assert_array_equal(z, heat.to_numpy())


def test_a_large_heatmap_is_drawn_in_blocks_of_the_best_value() -> None:
    from app.components.sweep import coarsened

    values = np.arange(24, dtype=float).reshape(4, 6)
    values[0, 0] = values[1, 1] = np.nan  # a block with NaN keeps its finite best
    values[2:4, 4:6] = np.nan  # an all-NaN block stays NaN
    grid = pd.DataFrame(
        values,
        index=pd.Index([10, 20, 30, 40], name="fast"),
        columns=pd.Index([1, 2, 3, 4, 5, 6], name="slow"),
    )
    drawn, rows, cols = coarsened(grid, universe=False, max_cells=6)
    assert (rows, cols) == (2, 2)
    expected = pd.DataFrame(
        [[6.0, 9.0, 11.0], [19.0, 21.0, np.nan]],
        index=pd.Index([10, 30], name="fast"),
        columns=pd.Index([1, 3, 5], name="slow"),
    )
    pd.testing.assert_frame_equal(drawn, expected)
    assert coarsened(grid, universe=False, max_cells=24)[0] is grid
    by_symbol, rows, cols = coarsened(grid, universe=True, lower=True, max_cells=12)
    assert (rows, cols) == (1, 2) and by_symbol.shape == (4, 3)  # one row per symbol kept
    assert by_symbol.iloc[1].tolist() == [6.0, 8.0, 10.0]  # min of each pair (a lower metric)
