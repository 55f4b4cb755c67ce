"""The Sweep page, driven through the router like a user: grid, run, heatmap, reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.services import jobs
from app.services import runs as run_store
from app.services.sweep import reopen_sweep
from tests.pages.helpers import MAIN, metrics, open_app, trace_types

RUN_SWEEP = "FormSubmitter:sweep.form-Run sweep"


def test_sweep_shows_combination_count_and_heatmap() -> None:
    at = open_app("sweep")
    for name, (lo, hi, step) in {"fast": (5, 50, 5), "slow": (20, 200, 20)}.items():
        at.number_input(key=f"sw.ma_crossover.{name}.lo").set_value(lo)
        at.number_input(key=f"sw.ma_crossover.{name}.hi").set_value(hi)
        at.number_input(key=f"sw.ma_crossover.{name}.step").set_value(step)
    at.button(key=RUN_SWEEP).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []
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
        "fast: 1:1e+15:1 has 1e+15 points, more than the cap of 1,000,000; "
        "use a larger step or a narrower range" in errors
    ), errors
    assert "Fix the grid ranges marked above; nothing was run." in errors
    assert run_store.list_runs() == [] and jobs.list_jobs() == []


def test_sweep_axis_outside_the_declared_range_is_refused() -> None:
    at = open_app("sweep")
    at.number_input(key="sw.ma_crossover.fast.lo").set_value(0)
    at.button(key=RUN_SWEEP).click().run()
    errors = [e.value for e in at.error]
    assert any(
        "fast=0:80:1 goes outside the valid range: fast must be an integer in [1, 100000]" in e
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
