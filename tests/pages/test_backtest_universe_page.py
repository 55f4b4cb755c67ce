"""The Backtest page's Universe tab: one strategy on every symbol, run as a job."""

from __future__ import annotations

import numpy as np

from app.operations.universe import UniverseRequest
from app.services import jobs
from app.services.universe import run_universe
from tests.pages.helpers import chart_spec, metrics, open_app, plotly_array

RUN = "FormSubmitter:universe.form-Backtest the universe"


def test_universe_job_table_equals_a_direct_run() -> None:
    at = open_app("backtest")
    at.selectbox(key="uv.strategy").set_value("ma_crossover").run()
    at.number_input(key="uv.ma_crossover.fast").set_value(10)
    at.number_input(key="uv.ma_crossover.slow").set_value(50)
    at.button(key=RUN).click().run()
    assert not at.exception, at.exception
    (job,) = jobs.list_jobs(kind="universe")
    request = jobs.request_of(job)
    assert isinstance(request, UniverseRequest)
    assert request.symbols == [] and request.params["fast"] == 10  # every symbol
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception, at.exception

    direct = run_universe(request, save=False)
    assert len(direct.table) == 6  # ohlcv_daily's symbols
    shown = metrics(at)
    summary = direct.summary()
    assert shown["Symbols backtested"] == f"{summary['backtested']} of 6"
    assert shown["Median Sharpe"] == f"{summary['median_sharpe']:.2f}"
    table = at.dataframe[0].value
    assert list(table["symbol"]) == list(direct.table["symbol"])
    np.testing.assert_array_equal(
        table["sharpe"].to_numpy(float), direct.table["sharpe"].to_numpy(float)
    )
    bars = chart_spec(at)["data"]
    ranked = direct.table[direct.table["note"] == ""].sort_values("sharpe", ascending=False)
    assert list(bars[0]["x"]) == list(ranked["symbol"])
    np.testing.assert_array_equal(
        plotly_array(bars[0]["y"]).astype(float), ranked["sharpe"].to_numpy(float)
    )
