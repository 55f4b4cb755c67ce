"""Backtest page: regime-filter inputs and the Portfolio tab, driven like a user."""

from __future__ import annotations

from app.services import runs as run_store
from app.services.backtest import reopen_backtest
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
