"""The analyst's research journey in a real browser: upload a good and a bad file, a backtest
and its tear sheet, a sweep with its progress and heatmap, the Regimes page's EM iterations,
a portfolio and the saved runs; the portfolio again at 800 px. Every figure checked is the
one the services compute for the same inputs in this process (or, for runs prepared through
the CLI, the one the CLI printed). Each test prepares what it asserts on, so none depends on
another having run before it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from app.components import numbers
from app.components.backtest import fmt
from app.operations.backtest import BacktestRequest, PortfolioRequest
from app.operations.sweep import SweepRequest
from app.services import regime as regime_service
from app.services.backtest import compute_backtest, run_portfolio
from app.services.data import load_prices
from app.services.sweep import run_sweep
from core.strategies import STRATEGIES
from core.sweep import GridAxis
from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    click_button,
    fill_number,
    metric_value,
    open_page,
    radio,
    sidebar_collapses,
    wait_idle,
)
from tests.polling import wait_until

FIVE = ["AAPL", "GOOG", "IBM", "MSFT", "NASDAQ"]
GOOD = b"date,close\n2021-01-04,100\n2021-01-05,101\n2021-01-06,99.5\n"
LOADED_MS = 60_000
"""How long a first check after an action waits (a busy CI machine draws slowly)."""
BAD = b"date,high,low,close\n2021-01-04,1,2,1.5\n2021-01-04,2,1,abc\n"


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _type(page: Any, label: str, value: str) -> None:
    """Type into a form's text input without pressing Enter (Enter would submit the form)."""
    page.locator('[data-testid="stTextInput"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    ).locator("input").fill(value)


def _attach(page: Any, label: str, path: Path) -> None:
    """Put ``path`` in the form's file uploader labelled ``label`` and wait until it is
    listed (an uploader in a form causes no script run until the form is submitted)."""
    uploader = page.locator('[data-testid="stFileUploader"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    )
    uploader.locator('input[type="file"]').set_input_files(str(path))
    expect(uploader.get_by_text(path.name, exact=True)).to_be_visible()


def _grid_rows(page: Any, index: int = 0) -> list[list[str]]:
    """The cells of the ``index``-th ``st.dataframe`` as its accessible grid mirror holds
    them (raw values; only the rows the grid has drawn). The mirror sits inside the grid's
    canvas, which Playwright never sees as visible: the frame around it is scrolled to."""
    frame = page.locator('[data-testid="stDataFrame"]').nth(index)
    expect(frame).to_be_visible()
    frame.scroll_into_view_if_needed()
    return [
        [str(cell).strip() for cell in row]
        for row in frame.locator("table").first.evaluate(
            """(table) => Array.from(table.querySelectorAll('tr')).map((tr) =>
            Array.from(tr.querySelectorAll('th, td')).map((c) => c.textContent || ''))"""
        )
        if any(str(cell).strip() for cell in row)
    ]


def _saved_rows(page: Any, run_ids: set[int]) -> dict[int, list[str]]:
    """The Saved runs table's rows by run id, once every one of ``run_ids`` is drawn."""

    def drawn() -> dict[int, list[str]] | None:
        rows = {int(r[0]): r for r in _grid_rows(page)[1:] if r and r[0].isdigit()}
        return rows if run_ids <= set(rows) else None

    found: dict[int, list[str]] = wait_until(drawn, f"saved runs {sorted(run_ids)}", 20.0)
    return found


def _full_range(symbol: str) -> tuple[Any, Any]:
    index = load_prices("ohlcv_daily", symbol).index
    return index[0].date(), index[-1].date()


def test_a_good_upload_is_imported_and_a_bad_one_names_each_problem(
    page: Any, server: Any, tmp_path: Path
) -> None:
    (tmp_path / "fund.csv").write_bytes(GOOD)
    (tmp_path / "bad.csv").write_bytes(BAD)
    open_page(page, server, "data")
    _tab(page, "Upload")
    _attach(page, "Price file", tmp_path / "fund.csv")
    _type(page, "Dataset name", "fund")
    click_button(page, "Validate and import")
    imported = page.get_by_text("Imported 3 rows (2021-01-04 → 2021-01-06, columns")
    expect(imported).to_be_visible(timeout=LOADED_MS)
    expect(page.get_by_text("as uploads/fund.")).to_be_visible()

    _attach(page, "Price file", tmp_path / "bad.csv")
    _type(page, "Dataset name", "bad_fund")
    click_button(page, "Validate and import")
    expect(
        page.get_by_text("bad.csv was not imported: 4 problems to fix. Nothing was stored.")
    ).to_be_visible()
    expect(
        page.get_by_text(
            "column 'close': 1 non-numeric value(s) (line 3: 'abc'); use plain numbers such "
            "as 101.25"
        )
    ).to_be_visible()
    expect(
        page.get_by_text(
            "high < low on 1 row(s) (line 2 (2021-01-04)); check for swapped high and low columns"
        )
    ).to_be_visible()
    assert_no_exception(page)
    check_axe(page)


def test_a_backtest_shows_the_services_metrics_and_its_tear_sheet_downloads(
    page: Any, server: Any
) -> None:
    open_page(page, server, "backtest")
    click_button(page, "Run backtest")
    expect(page.get_by_text("Run #", exact=False).first).to_be_visible(timeout=LOADED_MS)
    first, last = _full_range("SP500")
    params = STRATEGIES["ma_crossover"].params_model().model_dump()
    expected = compute_backtest(
        BacktestRequest(
            symbol="SP500", strategy="ma_crossover", params=params, start=first, end=last
        )
    ).metrics
    for label, key in (
        ("Sharpe", "sharpe"),
        ("Total return", "total_return"),
        ("Trades", "n_trades"),
    ):
        assert metric_value(page, label) == fmt(key, expected[key]), label
    click_button(page, "Build tear sheet (quantstats)")
    download = page.get_by_role("button", name="Download tear sheet (HTML)")
    expect(download).to_be_visible(timeout=90_000)  # built by the jobs worker
    wait_idle(page)  # the run that drew the button is over: the click lands on the final one
    with page.expect_download() as info:
        download.click()
    html = Path(info.value.path()).read_text()
    assert "ma_crossover on ohlcv_daily/SP500 vs buy-and-hold" in html
    assert_no_exception(page)
    check_axe(page)


def test_a_sweep_runs_as_a_job_with_progress_and_shows_its_heatmap(page: Any, server: Any) -> None:
    open_page(page, server, "sweep")
    click_button(page, "Run sweep")
    expect(page.get_by_text("(sweep)").first).to_be_visible(timeout=LOADED_MS)  # its job
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=90_000)
    heading = page.get_by_text(re.compile(r"^Sweep #(\d+): ma_crossover on SP500$"))
    expect(heading).to_be_visible()
    run_id = int(re.findall(r"\d+", heading.inner_text())[0])
    saved = json.loads(server.cli("runs", "--kind", "sweep", "--json").stdout)["runs"]
    assert run_id in [run["id"] for run in saved], saved  # the job's sweep is a saved run
    first, last = _full_range("SP500")
    grid = {
        "fast": GridAxis(start=20, stop=80, step=1),
        "slow": GridAxis(start=50, stop=200, step=1),
    }
    expected = run_sweep(
        SweepRequest(symbol="SP500", grid=grid, fixed={"entry": "state"}, start=first, end=last),
        save=False,
    )
    assert metric_value(page, "Combinations") == f"{expected.combinations:,}"
    assert metric_value(page, "Best sharpe") == fmt("sharpe", expected.best["sharpe"])
    expect(page.get_by_text("**sweep**")).to_have_count(0)
    expect(
        page.locator(".js-plotly-plot .heatmaplayer, .js-plotly-plot .hm").first
    ).to_be_attached()
    assert_no_exception(page)
    check_axe(page)


def test_the_regimes_page_offers_em_iterations_and_names_them_in_its_warning(
    page: Any, server: Any
) -> None:
    open_page(page, server, "regime")
    expect(page.get_by_text("Current regime")).to_be_visible(timeout=LOADED_MS)
    radio(page, "History", "In-sample: whole-series fit (sees the future)")
    fill_number(page, "EM iterations", 10)
    prices = load_prices("ohlcv_daily", "SP500")
    history = regime_service.history_spec("in-sample")
    fitted = regime_service.fit_prices(prices, "hmm", 0, history, n_iter=10)
    (warning,) = fitted.result.warnings
    expect(page.get_by_text(f"{warning} (the EM iterations control above, now 10)")).to_be_visible()
    assert metric_value(page, "Current regime") == fitted.current[0]
    assert metric_value(page, "Confidence") == f"{fitted.current[1]:.1%}"
    assert_no_exception(page)
    check_axe(page)


def _run_book(page: Any, server: Any) -> dict[str, float]:
    open_page(page, server, "backtest")
    _tab(page, "Portfolio")
    expect(page.get_by_text("Monthly", exact=True)).to_be_visible(timeout=LOADED_MS)
    expect(page.get_by_text("Never (buy and hold)", exact=True)).to_be_visible()
    click_button(page, "Run portfolio backtest")
    expected = run_portfolio(PortfolioRequest(dataset="ohlcv_daily", symbols=FIVE), save=False)
    return expected.metrics


def test_a_portfolio_counts_its_rebalances_names_its_period_and_is_saved(
    page: Any, server: Any
) -> None:
    tried = json.loads(
        server.cli("backtest", "--param", "fast=10", "--param", "slow=30", "--json").stdout
    )
    swept = json.loads(
        server.cli("sweep", "--grid", "fast=10:20:5", "--grid", "slow=50:60:10", "--json").stdout
    )
    metrics = _run_book(page, server)
    for label, key in (
        ("Sharpe", "sharpe"),
        ("Rebalances", "rebalances"),
        ("Orders (fills)", "orders"),
        ("Final equity", "final_equity"),
    ):
        assert metric_value(page, label) == fmt(key, metrics[key]), label
    assert metric_value(page, "Rebalances") == "104"  # ~ monthly, 2004-08 to 2013-03
    expect(
        page.get_by_text(
            "The book ran on 2004-08-19 → 2013-03-01 (2,148 bars): the bars all 5 symbols "
            "share within the chosen range"
        )
    ).to_be_visible()
    heading = page.get_by_text(re.compile(r"^Portfolio #(\d+): 5 symbols$"))
    expect(heading).to_be_visible()
    book_id = int(re.findall(r"\d+", heading.inner_text())[0])
    _tab(page, "Saved runs")
    wait_idle(page)
    rows = _saved_rows(page, {tried["run_id"], swept["run_id"], book_id})
    book, backtest, sweep = rows[book_id], rows[tried["run_id"]], rows[swept["run_id"]]
    assert book[1] == "Portfolio" and book[4] == fmt("sharpe", metrics["sharpe"]), book
    assert backtest[1] == "Backtest", backtest
    assert backtest[4] == fmt("sharpe", tried["sharpe"]), backtest
    assert backtest[5] == fmt("total_return", tried["total_return"]), backtest
    assert backtest[6] == f"{numbers.integer(tried['n_trades'])} trades", backtest
    best = swept["best"]
    assert sweep[1] == "Sweep", sweep
    assert sweep[4] == fmt("sharpe", best["sharpe"]), sweep
    assert sweep[6] == (
        f"best of {swept['combinations']} combinations by sharpe "
        f"(fast={best['fast']}, slow={best['slow']})"
    ), sweep
    assert_no_exception(page)
    check_axe(page)


def test_at_800_px_the_portfolio_figures_are_whole_and_the_sidebar_collapses(
    narrow_page: Any, server: Any
) -> None:
    metrics = _run_book(narrow_page, server)
    assert metric_value(narrow_page, "Orders (fills)") == fmt("orders", metrics["orders"])
    assert_not_truncated(narrow_page.locator('[data-testid="stMetricValue"]'))
    sidebar_collapses(narrow_page)
    assert_not_truncated(narrow_page.locator('[data-testid="stMetricValue"]'))
    assert_no_exception(narrow_page)
    check_axe(narrow_page)
