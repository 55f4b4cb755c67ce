"""Risk page: validated, audited limit changes that apply at once, and stale-tab conflicts."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.operations.paper import PaperRequest
from app.operations.risk import LimitsChangeRequest
from app.services import risk as risk_service
from app.services.auth import Actor
from tests.pages.helpers import chart_spec, metrics, open_app, plotly_array

APPLY = "FormSubmitter:risk.limits_form-Apply new limits"


@pytest.fixture
def arrow_fallbacks() -> Iterator[list[str]]:
    """What Streamlit logs when a table it is given does not convert to Arrow as it
    stands (a column mixing types: the server log's traceback), while the test runs."""
    seen: list[str] = []

    class Record(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(f"{record.getMessage()} {record.exc_info and record.exc_info[1]}")

    logger, handler = logging.getLogger("streamlit.dataframe_util"), Record()
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


def table_with(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page that has all of ``columns``."""
    for table in at.dataframe:
        if set(columns) <= set(table.value.columns):
            return table.value
    raise AssertionError(f"no table with columns {columns}")


def field(name: str) -> str:
    return f"risk.form.{name}"


def errors_beside(at: AppTest, name: str) -> list[str]:
    """Errors right after the input of limit ``name`` (before the next input)."""
    for column in at.columns:
        found, out = False, []
        for node in column.children.values():
            if node.type == "number_input":
                if found:
                    break
                found = node.key == field(name)
            elif found and node.type == "error":
                out.append(node.value)
        if found:
            return out
    raise AssertionError(f"no input for {name}")


def apply(at: AppTest, reason: str, **values: float) -> AppTest:
    for name, value in values.items():
        at.number_input(key=field(name)).set_value(value)
    at.text_area(key="risk.reason").set_value(reason)
    return at.button(key=APPLY).click().run()


def caption_version(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Limits version"))


def limits_table(at: AppTest) -> dict[str, str]:
    table = at.dataframe[0].value
    return dict(zip(table["limit"], table["value"], strict=True))


def test_invalid_limit_is_shown_beside_its_field_and_nothing_is_stored() -> None:
    at = open_app("risk")
    apply(at, "testing", max_weight_per_asset=1.5)
    assert not at.exception
    (message,) = errors_beside(at, "max_weight_per_asset")
    assert message.startswith("Max weight per asset must be a fraction of equity in (0, 1]")
    assert errors_beside(at, "max_drawdown") == []
    assert risk_service.history() == []
    # the user's input is kept for correction
    assert at.number_input(key=field("max_weight_per_asset")).value == 1.5


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_drawdown", 50.0, "Max drawdown must be a fraction of peak equity in (0, 1]"),
        ("max_daily_loss", 0.0, "Max daily loss must be a fraction of equity in (0, 1]"),
        ("var_limit_95", -0.01, "Var limit 95 must be a fraction of equity in (0, 1]"),
        ("max_concentration", 1.01, "Max concentration must be a share of portfolio volatility"),
        ("max_gross_exposure", 11.0, "Max gross exposure must be a multiple of equity in (0, 10]"),
        ("max_net_exposure", 0.0, "Max net exposure must be a multiple of equity in (0, 10]"),
        ("max_order_notional", -5.0, "Max order notional must be an amount of money"),
        ("max_orders_per_minute", 0, "Max orders per minute must be a whole number of orders in"),
        ("max_orders_per_minute", 10_001, "Max orders per minute must be a whole number of orders"),
    ],
)
def test_each_limit_is_checked_in_its_unit_and_range_beside_its_field(
    name: str, value: float, expected: str
) -> None:
    at = open_app("risk")
    apply(at, "out of range", **{name: value})
    assert not at.exception
    beside = errors_beside(at, name)
    assert len(beside) == 1 and beside[0].startswith(expected), beside
    assert risk_service.history() == []


def test_cross_field_rule_is_shown_beside_a_field_it_names() -> None:
    at = open_app("risk")
    apply(at, "loose daily loss", max_daily_loss=0.2)  # drawdown limit is 0.15
    (message,) = errors_beside(at, "max_drawdown")
    assert message.startswith("Max drawdown (0.15) must be >= max daily loss (0.2)")
    assert risk_service.history() == []


def test_reason_is_required() -> None:
    at = open_app("risk")
    apply(at, "", max_weight_per_asset=0.2)
    assert any(e.value.startswith("Reason for the change: say why") for e in at.error)
    assert risk_service.current_limits()[0] == 0


def test_change_is_applied_versioned_audited_and_shown_at_once() -> None:
    at = open_app("risk")
    apply(at, "tighter single-name risk", max_weight_per_asset=0.2, max_orders_per_minute=10)
    assert not at.exception
    assert any(
        "Version 1 in force" in s.value and "0.25 (25.0%) → 0.2 (20.0%)" in s.value
        for s in at.success
    )
    version, limits = risk_service.current_limits()
    assert (version, limits.max_weight_per_asset, limits.max_orders_per_minute) == (1, 0.2, 10)
    (change,) = risk_service.history()
    assert change.changed_by == "local" and change.reason == "tighter single-name risk"
    assert change.changes == {
        "max_weight_per_asset": (0.25, 0.2),
        "max_orders_per_minute": (30, 10),
    }
    # The same run that applied shows the new version in the caption and the table
    # (they showed the old version until the next rerun before).
    assert caption_version(at).startswith("Limits version 1 in force.")
    shown = limits_table(at)
    assert shown["max_weight_per_asset"] == "0.2 (20.0%)"
    assert shown["max_orders_per_minute"] == "10"
    history = at.dataframe[-1].value
    assert list(history["version"]) == [1] and "tighter" in history["reason"].iloc[0]
    # the form now edits the new version, starting from its values, with an empty reason
    assert at.number_input(key=field("max_weight_per_asset")).value == 0.2
    assert at.text_area(key="risk.reason").value == ""


def test_second_edit_in_the_same_tab_is_applied() -> None:
    at = open_app("risk")
    apply(at, "first", max_weight_per_asset=0.2)
    apply(at, "second", max_weight_per_asset=0.15)
    assert not at.exception
    assert not [e.value for e in at.error]
    assert any(
        "Version 2 in force: max_weight_per_asset: 0.2 (20.0%) → 0.15 (15.0%)" in s.value
        for s in at.success
    )
    assert risk_service.current_limits()[1].max_weight_per_asset == 0.15
    apply(at, "third", max_drawdown=0.1)
    assert [c.version for c in risk_service.history()] == [3, 2, 1]
    assert caption_version(at).startswith("Limits version 3 in force.")


def test_stale_tab_gets_the_conflict_and_keeps_its_edit_until_reloaded() -> None:
    stale = open_app("risk")  # tab 1 loads version 0
    fresh = open_app("risk")  # tab 2, same database
    other = Actor("alice", frozenset({"risk"}))
    apply(fresh, "tab two first", max_order_notional=20_000.0)
    assert risk_service.current_limits()[0] == 1
    # Tab 1 submits an edit made against version 0.
    apply(stale, "tab one late", max_weight_per_asset=0.1)
    assert not stale.exception
    conflict = [e.value for e in stale.error if "limits changed by" in e.value]
    assert len(conflict) == 1
    assert "limits changed by local at " in conflict[0]
    assert "(now version 1; you loaded version 0); reload" in conflict[0]
    assert [c.version for c in risk_service.history()] == [1]  # nothing stored
    assert risk_service.current_limits()[1].max_weight_per_asset == 0.25
    assert stale.number_input(key=field("max_weight_per_asset")).value == 0.1  # edit kept
    assert any("This form holds version 0" in w.value for w in stale.warning)
    assert caption_version(stale).startswith("Limits version 1 in force.")
    # A third change by someone else, then tab 1 reloads and applies on top of it.
    risk_service.set_limits(
        LimitsChangeRequest(values={"max_drawdown": 0.1}, reason="alice"), actor=other
    )
    stale.run()
    assert any("alice changed the limits to version 2" in w.value for w in stale.warning)
    stale.button(key="risk.reload").click().run()
    assert not stale.warning
    assert stale.number_input(key=field("max_order_notional")).value == 20_000.0
    assert stale.number_input(key=field("max_drawdown")).value == 0.1
    apply(stale, "tab one again", max_weight_per_asset=0.1)
    assert any(
        "Version 3 in force: max_weight_per_asset: 0.25 (25.0%) → 0.1 (10.0%)" in s.value
        for s in stale.success
    )
    limits = risk_service.current_limits()[1]
    assert (limits.max_weight_per_asset, limits.max_order_notional, limits.max_drawdown) == (
        0.1,
        20_000.0,
        0.1,
    )


def test_portfolio_risk_tab_shows_the_books_exposures_var_and_annual_volatility(
    arrow_fallbacks: list[str],
) -> None:
    from app.services import paper

    at = open_app("risk")
    assert any("No paper-trading book yet" in i.value for i in at.info)
    risk_service.set_limits(
        LimitsChangeRequest(
            values={
                "max_weight_per_asset": 0.6,
                "var_limit_95": 1.0,
                "max_concentration": 1.0,
                "max_order_notional": 1e6,
            },
            reason="let the test book trade",
        )
    )
    summary = paper.run_worker(PaperRequest(symbols=["SP500", "NASDAQ"]), steps=40)
    assert summary["fills"] > 0
    report = paper.risk_report(paper.monitor())
    at.run()
    shown = metrics(at)
    assert shown["Equity"] == f"${report.equity:,.0f}"
    cursor = paper.monitor().session["cursor_ts"]
    assert any(c.value.endswith(f"as of {cursor:%Y-%m-%d}.") for c in at.caption)
    assert shown["Gross exposure"] == f"{report.gross_exposure:.1%}"
    assert shown["1-day VaR 95% (hist.)"] == f"{report.var_hist:.2%}"
    assert shown["CVaR 95% (hist.)"] == f"{report.cvar_hist:.2%}"
    assert report.cvar_hist >= report.var_hist > 0
    # "Volatility (ann.)" showed the 1-day figure: now 1-day x sqrt(252)
    assert shown["Volatility (1-day)"] == f"{report.volatility:.2%}"
    assert shown["Volatility (ann.)"] == f"{report.volatility * math.sqrt(252):.1%}"
    assert shown["Volatility (ann.)"] != f"{report.volatility:.1%}"
    spec = chart_spec(at, 1)
    assert spec["data"][0]["type"] == "heatmap"
    assert plotly_array(spec["data"][0]["z"]).shape == (2, 2)
    used = table_with(at, "used")
    assert all(text.endswith("%") for text in used["used"])
    assert arrow_fallbacks == []


def test_returning_to_the_page_loads_the_limits_in_force() -> None:
    from pathlib import Path

    from tests.pages.helpers import MAIN

    at = open_app("risk")
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "data.py")).run()
    risk_service.set_limits(LimitsChangeRequest(values={"max_drawdown": 0.12}, reason="while away"))
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "risk.py")).run()
    assert not at.exception
    assert at.number_input(key=field("max_drawdown")).value == 0.12
    assert at.number_input(key=field("max_weight_per_asset")).value == 0.25
    assert not at.warning
    apply(at, "back again", max_drawdown=0.11)
    assert any(
        "Version 2 in force: max_drawdown: 0.12 (12.0%) → 0.11 (11.0%)" in s.value
        for s in at.success
    )


def test_tables_show_each_limit_in_its_unit_as_text(arrow_fallbacks: list[str]) -> None:
    """Money with its currency, counts and range ends with thousands separators, fractions
    also as a percentage; every column one type (no Arrow fallback in the server log)."""
    risk_service.set_limits(
        LimitsChangeRequest(values={"max_order_notional": 1_250_000.0}, reason="bigger tickets")
    )
    at = open_app("risk")
    table = table_with(at, "limit", "value", "valid range").set_index("limit")
    assert table.loc["max_order_notional", "value"] == "$1,250,000.00"
    assert table.loc["max_order_notional", "valid range"] == "(0, 1 trillion]"
    assert table.loc["max_orders_per_minute", "valid range"] == "[1, 10,000]"
    assert table.loc["max_gross_exposure", "value"] == "1.00×"
    assert table.loc["var_method", "value"] == "historical"
    assert table.loc["max_drawdown", "value"] == "0.15 (15.0%)"
    history = table_with(at, "version", "changes")
    assert history["changes"][0] == "max_order_notional: $50,000.00 → $1,250,000.00"
    label = at.number_input(key=field("max_orders_per_minute")).label
    assert label.endswith("[1, 10,000]"), label
    assert arrow_fallbacks == []
