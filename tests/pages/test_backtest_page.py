"""The Backtest page, driven through the router like a user: run, reopen, report."""

from __future__ import annotations

from datetime import date

from streamlit.testing.v1 import AppTest

from app.operations.backtest import BacktestOutcome, BacktestRequest
from app.services import backtest, jobs
from app.services import runs as run_store
from app.services.report import saved_tearsheet
from core.backtest.spec import EXECUTION
from tests.pages.helpers import metrics, open_app, trace_types

RUN_BACKTEST = "FormSubmitter:backtest.form-Run backtest"
# Card label -> (metric key, how the page formats it).
PERCENT_CARDS = {
    "Total return": "total_return",
    "CAGR": "cagr",
    "Volatility (ann.)": "volatility",
    "Max drawdown": "max_drawdown",
    "Win rate": "win_rate",
    "Exposure": "exposure",
}
RATIO_CARDS = {
    "Sharpe": "sharpe",
    "Sortino": "sortino",
    "Calmar": "calmar",
    "Profit factor": "profit_factor",
    "Turnover (ann.)": "turnover",
}
COUNT_CARDS = {"Trades": "n_trades", "Max DD duration (bars)": "max_drawdown_duration"}


def _service_outcome(fast: int, slow: int) -> BacktestOutcome:
    """The same request the page builds from its defaults (5 bps each, full range)."""
    request = BacktestRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        params={"fast": fast, "slow": slow, "allow_short": False},
        fees=0.0005,
        slippage=0.0005,
        init_cash=100_000.0,
        start=date(1999, 1, 4),
        end=date(2018, 12, 31),
    )
    return backtest.run_backtest(request, save=False)


def _expected_cards(values: dict[str, float]) -> dict[str, str]:
    out = {label: f"{100 * values[key]:.2f}%" for label, key in PERCENT_CARDS.items()}
    out |= {label: f"{values[key]:.2f}" for label, key in RATIO_CARDS.items()}
    out |= {label: f"{round(values[key]):,}" for label, key in COUNT_CARDS.items()}
    return out


def _set_windows(at: AppTest, fast: int, slow: int) -> None:
    at.number_input(key="bt.ma_crossover.fast").set_value(fast)
    at.number_input(key="bt.ma_crossover.slow").set_value(slow)


def test_fast_not_below_slow_shows_error_and_stores_nothing() -> None:
    at = open_app("backtest")
    assert at.title[0].value == "Backtest"
    _set_windows(at, 100, 20)
    at.button(key=RUN_BACKTEST).click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("fast window (100)" in e.lower() and "slow window (20)" in e for e in errors), errors
    assert metrics(at) == {}
    assert run_store.list_runs() == []


def test_valid_run_shows_service_metrics_is_saved_and_builds_tear_sheet() -> None:
    at = open_app("backtest")
    _set_windows(at, 20, 100)
    at.button(key=RUN_BACKTEST).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []

    expected = _service_outcome(20, 100)
    shown = metrics(at)
    assert shown == _expected_cards(expected.metrics)
    # Spelled out once for the reference run (SP500, SMA 20/100, 5 bps fees and slippage).
    assert shown["Total return"] == "49.34%"
    assert shown["Sharpe"] == "0.24"
    assert shown["Trades"] == "32"

    captions = " ".join(c.value for c in at.caption)
    assert f"Execution: {EXECUTION}." in captions
    bench = expected.benchmark_metrics
    assert f"total return {100 * bench['total_return']:.2f}%" in captions
    assert "Fees 0.05% and slippage 0.05% per fill" in captions
    assert trace_types(at) == ["scatter", "scatter", "scatter"]

    (saved,) = run_store.list_runs()
    assert (
        saved.kind == "backtest"
        and saved.title == "ma_crossover SP500 fast=20 slow=100 allow_short=False entry=state"
    )
    assert saved.metrics["sharpe"] == expected.metrics["sharpe"]
    assert at.session_state["backtest.run_id"] == saved.id
    assert any(f"Run #{saved.id}" in h.value for h in at.subheader)

    assert at.get("download_button") == []
    at.button(key="bt.tearsheet").click().run()
    assert not at.exception
    (job,) = jobs.list_jobs(kind="report")  # the tear sheet is built as a job
    assert job.status == "queued" and job.spec["run_id"] == saved.id
    assert at.get("download_button") == []
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception
    (download,) = at.get("download_button")
    assert download.proto.label == "Download tear sheet (HTML)"
    html = saved_tearsheet(saved.id).read_text()  # kept with the run
    assert jobs.get_job(job.id).result["html_path"] == str(saved_tearsheet(saved.id))
    assert "Benchmark" in html
    again = open_app("backtest")  # a later visit downloads it without a new job
    again.session_state["backtest.run_id"] = saved.id
    again.run()
    assert len(again.get("download_button")) == 1 and len(jobs.list_jobs(kind="report")) == 1


def _store_run() -> BacktestOutcome:
    request = BacktestRequest(
        dataset="ohlcv_daily",
        symbol="SP500",
        strategy="ma_crossover",
        params={"fast": 10, "slow": 50},
    )
    return backtest.run_backtest(request)


def test_saved_runs_tab_reopens_a_run_saved_by_the_service() -> None:
    stored = _store_run()
    at = open_app("backtest")
    assert metrics(at) == {}  # nothing open yet
    assert at.selectbox(key="saved.choice").value == stored.run_id
    at.button(key="saved.reopen").click().run()
    assert not at.exception
    assert any(f"Run #{stored.run_id} reopened" in s.value for s in at.success)
    assert at.session_state["backtest.run_id"] == stored.run_id
    assert metrics(at) == _expected_cards(stored.metrics)
    assert any(f"Run #{stored.run_id}: ma_crossover on SP500" in h.value for h in at.subheader)


def test_reopened_run_is_visible_right_after_clicking_reopen() -> None:
    stored = _store_run()
    at = open_app("backtest")
    at.button(key="saved.reopen").click().run()
    assert metrics(at) == _expected_cards(stored.metrics)


def test_window_above_its_declared_range_is_refused_beside_the_field() -> None:
    at = open_app("backtest")
    _set_windows(at, 20, 200_000)
    at.button(key=RUN_BACKTEST).click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    # Beside the field: the slot shows the bare message, without a "loc:" prefix.
    assert errors == ["Slow must be at most 100,000."], errors
    assert (
        "Valid: an integer in [2, 100000] (bars)"
        in at.number_input(key="bt.ma_crossover.slow").help
    )
    assert run_store.list_runs() == []


def test_window_longer_than_the_data_is_refused_before_any_work() -> None:
    at = open_app("backtest")
    _set_windows(at, 6_000, 7_000)  # SP500 has 5,031 bars
    at.button(key=RUN_BACKTEST).click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors == [
        "6000 bars is longer than the 5031 bars of data; "
        "fast must be an integer in [1, 5031] (bars)."
    ], errors
    assert metrics(at) == {}
    assert run_store.list_runs() == []
