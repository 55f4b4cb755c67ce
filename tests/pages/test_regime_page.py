"""The Regimes page through the router: current regime, charts, method switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from app.services import regime as regime_service
from app.services.data import load_prices
from tests.pages.helpers import MAIN, chart_spec, metrics, open_app, plotly_array


def _titles(at) -> list[str]:  # type: ignore[no-untyped-def]
    spec = chart_spec(at, 0)
    return [a["text"] for a in spec["layout"].get("annotations", [])]


def test_regime_page_shows_current_regime_of_the_service() -> None:
    at = open_app("regime")
    assert at.title[0].value == "Regimes"
    expected = regime_service.fit_dataset("ohlcv_daily", "SP500", method="hmm")
    assert expected.result.history_mode == "expanding"  # causal by default
    # the page states the cadence and mode of the history it shows
    assert any("refit every 21 bars" in i.value and "before t only" in i.value for i in at.info)
    assert not any("SEES THE FUTURE" in w.value for w in at.warning)
    label, confidence, _ = expected.current
    shown = metrics(at)
    assert shown["Current regime"] == label
    assert shown["Confidence"] == f"{confidence:.1%}"
    # Price, stacked filtered probabilities and entropy; hindsight view is off by default.
    assert _titles(at)[:3] == [
        "Price by filtered regime",
        "Filtered probabilities (causal, tradable)",
        "Entropy",
    ]
    assert not any("hindsight" in t for t in _titles(at))
    transition = chart_spec(at, 1)["data"][0]
    assert transition["type"] == "heatmap"
    matrix = plotly_array(transition["z"])
    assert matrix.shape == (4, 4)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(matrix, expected.result.transition.to_numpy(), atol=1e-12)


def test_hindsight_toggle_and_method_switch() -> None:
    at = open_app("regime")
    at.toggle(key="regime.smoothed").set_value(True).run()
    assert any("hindsight" in t and "not tradable" in t for t in _titles(at))
    at.radio(key="regime.method").set_value("dpgmm").run()
    assert not at.exception
    expected = regime_service.fit_dataset("ohlcv_daily", "SP500", method="dpgmm")
    assert metrics(at)["Current regime"] == expected.current[0]


def test_close_only_symbol_works() -> None:
    at = open_app("regime")
    at.sidebar.selectbox(key="data.dataset").set_value("sp500_closes").run()
    at.sidebar.selectbox(key="data.symbol").set_value("JPM").run()
    assert not at.exception
    # the label the service computes for JPM, not merely one of the four labels
    expected = regime_service.fit_dataset("sp500_closes", "JPM", method="hmm")
    label, confidence, _ = expected.current
    shown = metrics(at)
    assert (shown["Current regime"], shown["Confidence"]) == (label, f"{confidence:.1%}")


def test_in_sample_option_is_labelled_and_cadence_changes_the_history() -> None:
    at = open_app("regime")
    at.radio(key="regime.mode").set_value("in-sample").run()
    assert not at.exception
    assert any("SEES THE FUTURE" in w.value for w in at.warning)
    in_sample = regime_service.fit_dataset(
        "ohlcv_daily", "SP500", history=regime_service.history_spec("in-sample")
    )
    assert metrics(at)["Current regime"] == in_sample.current[0]
    at.radio(key="regime.mode").set_value("expanding").run()
    at.number_input(key="regime.refit_every").set_value(63).run()
    assert not at.exception
    assert any("refit every 63 bars" in i.value for i in at.info)
    quarterly = regime_service.fit_dataset(
        "ohlcv_daily", "SP500", history=regime_service.history_spec("expanding", 63)
    )
    assert metrics(at)["Current regime"] == quarterly.current[0]
    assert metrics(at)["Confidence"] == f"{quarterly.current[1]:.1%}"


def _in_sample_goog(n_iter: int) -> AppTest:
    """The Regimes page on GOOG, in-sample, ``n_iter`` EM iterations from its first run
    (no causal fit of the default view first)."""
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.session_state["data.symbol"] = "GOOG"
    at.session_state["regime.mode"] = "in-sample"
    at.session_state["regime.n_iter"] = n_iter
    at.run()
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "regime.py"))
    at.run()
    assert not at.exception, at.exception
    return at


def test_em_iterations_control_feeds_the_fit_and_answers_its_warning() -> None:
    at = _in_sample_goog(10)
    n_iter = at.number_input(key="regime.n_iter")
    assert (n_iter.label, n_iter.value, n_iter.min, n_iter.max) == ("EM iterations", 10, 10, 5000)
    assert "did not converge" in n_iter.help
    prices = load_prices("ohlcv_daily", "GOOG")
    in_sample = regime_service.history_spec("in-sample")
    few = regime_service.fit_prices(prices, "hmm", 0, in_sample, n_iter=10)
    (warning,) = few.result.warnings  # ten iterations do not converge on GOOG
    assert warning.startswith("hmm did not converge within n_iter=10 EM iterations")
    assert f"{warning} (the EM iterations control above, now 10)" in [w.value for w in at.warning]
    assert metrics(at)["Confidence"] == f"{few.current[1]:.1%}"
    assert any("with 10 EM iterations per restart" in c.value for c in at.caption)
    at.number_input(key="regime.n_iter").set_value(200).run()
    enough = regime_service.fit_prices(prices, "hmm", 0, in_sample, n_iter=200)
    assert enough.result.warnings == []
    assert not any("EM iterations" in w.value for w in at.warning)
    assert metrics(at)["Confidence"] == f"{enough.current[1]:.1%}"


def test_em_iterations_default_is_the_models_and_offered_on_the_page() -> None:
    at = _in_sample_goog(100)
    assert at.number_input(key="regime.n_iter").help.startswith(
        "Iterations of expectation-maximization per restart of each full fit (10-5,000; "
        "100 by default)."
    )
    assert regime_service.N_ITER == 100
