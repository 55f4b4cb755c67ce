"""Risk page: validated, audited limit changes that apply at once."""

from __future__ import annotations

from app.services import risk as risk_service
from tests.pages.helpers import chart_spec, metrics, open_app, plotly_array

APPLY = "FormSubmitter:risk.limits_form-Apply new limits"


def test_invalid_limit_is_shown_beside_its_field_and_nothing_is_stored() -> None:
    at = open_app("risk")
    at.number_input(key="risk.v0.max_weight_per_asset").set_value(1.5)
    at.text_area(key="risk.reason").set_value("testing")
    at.button(key=APPLY).click().run()
    assert any("max_weight_per_asset must be a fraction in (0, 1]" in e.value for e in at.error)
    assert risk_service.history() == []


def test_reason_is_required() -> None:
    at = open_app("risk")
    at.number_input(key="risk.v0.max_weight_per_asset").set_value(0.2)
    at.button(key=APPLY).click().run()
    assert any("reason: say why" in e.value for e in at.error)
    assert risk_service.current_limits()[0] == 0


def test_change_is_applied_versioned_and_audited() -> None:
    at = open_app("risk")
    at.number_input(key="risk.v0.max_weight_per_asset").set_value(0.2)
    at.number_input(key="risk.v0.max_orders_per_minute").set_value(10)
    at.text_area(key="risk.reason").set_value("tighter single-name risk")
    at.button(key=APPLY).click().run()
    assert any("Version 1 in force" in s.value and "0.25 → 0.2" in s.value for s in at.success)
    version, limits = risk_service.current_limits()
    assert (version, limits.max_weight_per_asset, limits.max_orders_per_minute) == (1, 0.2, 10)
    (change,) = risk_service.history()
    assert change.changed_by == "local" and change.reason == "tighter single-name risk"
    assert change.changes == {
        "max_weight_per_asset": (0.25, 0.2),
        "max_orders_per_minute": (30, 10),
    }
    at.run()
    history = at.dataframe[-1].value
    assert list(history["version"]) == [1] and "tighter" in history["reason"].iloc[0]


def test_portfolio_risk_tab_shows_the_books_exposures_and_var() -> None:
    from app.services import paper

    at = open_app("risk")
    assert any("No paper-trading book yet" in i.value for i in at.info)
    risk_service.set_limits(
        {
            "max_weight_per_asset": 0.6,
            "var_limit_95": 1.0,
            "max_concentration": 1.0,
            "max_order_notional": 1e6,
        },
        reason="let the test book trade",
    )
    summary = paper.run_worker(paper.PaperRequest(symbols=["SP500", "NASDAQ"]), steps=40)
    assert summary["fills"] > 0
    report = paper.risk_report(paper.monitor())
    at.run()
    shown = metrics(at)
    assert shown["Gross exposure"] == f"{report.gross_exposure:.1%}"
    assert shown["1-day VaR 95% (hist.)"] == f"{report.var_hist:.2%}"
    assert shown["CVaR 95% (hist.)"] == f"{report.cvar_hist:.2%}"
    assert report.cvar_hist >= report.var_hist > 0
    spec = chart_spec(at, 1)
    assert spec["data"][0]["type"] == "heatmap"
    assert plotly_array(spec["data"][0]["z"]).shape == (2, 2)
