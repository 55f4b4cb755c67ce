"""Backtest page: regime-filter inputs and the Portfolio tab, driven like a user."""

from __future__ import annotations

import pandas as pd

from app.operations.backtest import BacktestRequest, PortfolioRequest
from app.operations.sweep import SweepRequest
from app.services import runs as run_store
from app.services.backtest import reopen_backtest, run_backtest, run_portfolio
from app.services.data import load_prices
from app.services.sweep import run_sweep
from core.sweep import GridAxis
from tests.pages.helpers import metrics, open_app

RUN = "FormSubmitter:backtest.form-Run backtest"
BOOK = "FormSubmitter:portfolio.form-Run portfolio backtest"


def test_regime_filter_without_regimes_is_an_error_beside_the_field() -> None:
    at = open_app("backtest")
    at.radio(key="bt.regime_mode").set_value("filter")
    at.multiselect(key="bt.regimes").set_value([])
    at.button(key=RUN).click().run()
    assert any("choose at least one regime" in e.value for e in at.error)
    assert run_store.list_runs() == []


def test_regime_filtered_run_shows_note_and_service_numbers() -> None:
    at = open_app("backtest")
    at.selectbox(key="backtest.strategy").set_value("buy_and_hold").run()
    at.radio(key="bt.regime_mode").set_value("filter")
    at.multiselect(key="bt.regimes").set_value(["bull"])
    at.button(key=RUN).click().run()
    assert not at.exception
    (saved,) = run_store.list_runs(kind="backtest")
    expected = reopen_backtest(saved.id)
    assert any("Regime filter: trade only in bull" in i.value for i in at.info)
    assert metrics(at)["Exposure"] == f"{expected.metrics['exposure']:.2%}"
    assert expected.metrics["exposure"] < 0.9


def test_portfolio_tab_runs_an_inverse_vol_book() -> None:
    at = open_app("backtest")
    at.sidebar.selectbox(key="data.dataset").set_value("sp500_closes").run()
    at.multiselect(key="pf.symbols.sp500_closes").set_value(["AAPL", "KO", "XOM"])
    at.radio(key="pf.w").set_value("inverse_vol")
    at.button(key=BOOK).click().run()
    assert not at.exception, at.exception
    (saved,) = run_store.list_runs(kind="portfolio")
    assert saved.spec["symbols"] == ["AAPL", "KO", "XOM"]
    assert metrics(at)["Sharpe"] == f"{saved.metrics['sharpe']:.2f}"


FIVE = ["AAPL", "GOOG", "IBM", "MSFT", "NASDAQ"]


def _month_starts(index: pd.DatetimeIndex) -> int:
    """Rebalance days of a monthly book, counted from the dates alone: the first bar of
    each month after the first bar, and the second bar (the first allocation)."""
    months = index.to_period("M")
    starts = {i for i in range(1, len(index)) if months[i] != months[i - 1]} | {1}
    return len(starts)


def test_portfolio_tab_counts_rebalances_and_orders_and_names_the_common_period() -> None:
    at = open_app("backtest")
    assert at.radio(key="pf.reb").options == ["Monthly", "Weekly", "Never (buy and hold)"]
    assert at.radio(key="pf.reb").value == "M"  # the request's code underneath
    assert at.multiselect(key="pf.symbols.ohlcv_daily").value == FIVE
    at.button(key=BOOK).click().run()
    assert not at.exception, at.exception
    frames = [load_prices("ohlcv_daily", s) for s in FIVE]
    common = frames[0].index
    for frame in frames[1:]:
        common = common.intersection(frame.index)
    rebalances = _month_starts(pd.DatetimeIndex(common))
    shown = metrics(at)
    assert "Trades" not in shown
    assert shown["Rebalances"] == f"{rebalances:,}"  # ~ one a month over 8.5 years
    assert shown["Orders (fills)"] == f"{5 * rebalances:,}"  # each symbol at each rebalance
    (saved,) = run_store.list_runs(kind="portfolio")
    assert shown["Final equity"] == f"${saved.metrics['final_equity']:,.2f}"
    first, last = common[0].date(), common[-1].date()
    assert (str(first), str(last)) == ("2004-08-19", "2013-03-01")
    (note,) = [i.value for i in at.info]
    assert note == (
        f"The book ran on {first} → {last} ({len(common):,} bars): the bars all 5 symbols "
        "share within the chosen range 1999-01-04 → 2018-12-31. GOOG starts 2004-08-19; "
        "AAPL, GOOG, IBM, MSFT end 2013-03-01."
    )
    assert any(f"{first} → {last} for the symbols shown" in c.value for c in at.caption)


def test_a_portfolio_stays_shown_and_reopens_from_saved_runs() -> None:
    at = open_app("backtest")
    at.button(key=BOOK).click().run()
    (saved,) = run_store.list_runs(kind="portfolio")
    shown = metrics(at)
    at.run()  # another rerun: the book is still there
    assert metrics(at) == shown
    again = open_app("backtest")
    assert metrics(again) == {}
    again.selectbox(key="saved.choice").set_value(saved.id)
    again.button(key="saved.reopen").click().run()
    assert not again.exception
    assert any(f"Run #{saved.id} reopened in the Portfolio tab" in s.value for s in again.success)
    assert metrics(again) == shown


def test_saved_runs_lists_every_kind_with_its_figures() -> None:
    bt = run_backtest(
        BacktestRequest(symbol="SP500", strategy="ma_crossover", params={"fast": 10, "slow": 50})
    )
    book = run_portfolio(PortfolioRequest(dataset="ohlcv_daily", symbols=["AAPL", "IBM"]))
    grid = {
        "fast": GridAxis(start=5, stop=15, step=5),
        "slow": GridAxis(start=40, stop=60, step=20),
    }
    sweep = run_sweep(SweepRequest(dataset="ohlcv_daily", symbol="SP500", grid=grid))
    at = open_app("backtest")
    table = at.dataframe[-1].value
    rows = {int(r["Run"]): r for r in table.to_dict("records")}
    assert list(rows) == [sweep.run_id, book.run_id, bt.run_id]  # newest first
    assert [rows[i]["Kind"] for i in rows] == ["Sweep", "Portfolio", "Backtest"]
    best = sweep.best
    assert rows[sweep.run_id]["Sharpe"] == f"{best['sharpe']:.2f}"
    assert rows[sweep.run_id]["Total return"] == f"{100 * best['total_return']:,.2f}%"
    assert rows[sweep.run_id]["What the figures are"] == (
        f"best of {sweep.combinations:,} combinations by sharpe "
        f"(fast={best['fast']}, slow={best['slow']})"
    )
    assert rows[book.run_id]["Sharpe"] == f"{book.metrics['sharpe']:.2f}"
    assert rows[bt.run_id]["Total return"] == f"{100 * bt.metrics['total_return']:,.2f}%"
    assert "None" not in table.to_string() and "nan" not in table.to_string().lower()
    assert ":" in rows[bt.run_id]["Saved"] and rows[bt.run_id]["Saved"].count(":") == 1
    assert at.selectbox(key="saved.choice").options == [
        f"#{sweep.run_id} Sweep: {rows[sweep.run_id]['Title']}",
        f"#{book.run_id} Portfolio: {rows[book.run_id]['Title']}",
        f"#{bt.run_id} Backtest: {rows[bt.run_id]['Title']}",
    ]


def test_a_kind_saved_after_the_tab_was_drawn_is_listed_in_the_same_session() -> None:
    run_backtest(
        BacktestRequest(symbol="SP500", strategy="ma_crossover", params={"fast": 10, "slow": 50})
    )
    at = open_app("backtest")
    assert list(at.dataframe[-1].value["Kind"]) == ["Backtest"]
    at.button(key=BOOK).click().run()
    assert list(at.dataframe[-1].value["Kind"]) == ["Portfolio", "Backtest"]
    at.multiselect(key="saved.kinds").set_value(["portfolio"]).run()
    assert list(at.dataframe[-1].value["Kind"]) == ["Portfolio"]
