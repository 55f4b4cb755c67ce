"""The risk manager's journey in a real browser: two successive limit changes in one tab
(each saved, the version up by one each time, both in the history), a stale tab that is
told plainly a newer change landed (nothing overwritten) and reloads, invalid values
refused beside their field with nothing saved, and the book's risk at 800 px."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    click_button,
    open_page,
    sidebar_collapses,
    wait_idle,
)

APPLY = "Apply new limits"


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A rerun on a loaded two-core machine can take longer than expect()'s 5 s."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def _in_force(server: Any) -> tuple[int, dict[str, Any]]:
    """The version and limits in force, as the CLI reads them from the server's database."""
    shown = json.loads(server.cli("risk", "limits", "show", "--json").stdout)
    return int(shown["version"]), dict(shown["limits"])


def _tab(page: Any, name: str) -> Any:
    """Open the tab ``name``; its panel."""
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.get_by_role("tabpanel", name=name)
    expect(panel).to_be_visible()
    return panel


def _limit_input(page: Any, name: str) -> Any:
    """The change form's input of limit ``name`` (its label starts with the name's words)."""
    words = re.escape(name.replace("_", " "))
    label = page.locator('[data-testid="stWidgetLabel"]').get_by_text(re.compile(rf"^{words} —"))
    return page.locator('[data-testid="stNumberInput"]').filter(has=label).locator("input")


def _edit(page: Any, reason: str, **values: float) -> None:
    """Type new values and a reason into the change form (no Enter: Enter would submit
    the form before every field is typed), then press Apply."""
    for name, value in values.items():
        _limit_input(page, name).fill(str(value))
    page.get_by_label("Reason for the change").fill(reason)
    click_button(page, APPLY)
    assert_no_exception(page)


def _history(page: Any) -> list[list[str]]:
    """The History tab's rows as shown (header first)."""
    panel = _tab(page, "History")
    table = panel.locator('[data-testid="stDataFrame"] table')
    expect(table).to_be_attached()
    rows = table.evaluate(
        """(t) => Array.from(t.querySelectorAll('tr')).map((tr) =>
            Array.from(tr.querySelectorAll('th, td')).map((c) => c.innerText.trim()))"""
    )
    return [row for row in rows if any(row)]


def _caption(page: Any, version: int) -> None:
    expect(page.get_by_text(re.compile(rf"^Limits version {version} in force\b"))).to_be_visible()


def test_two_changes_in_one_tab_then_a_stale_tab_then_invalid_values(
    page: Any, browser: Any, server: Any
) -> None:
    open_page(page, server, "risk")
    _caption(page, 0)
    check_axe(page)
    _tab(page, "Change limits")
    _edit(page, "tighter single-name risk", max_weight_per_asset=0.2)
    expect(
        page.get_by_text("Version 1 in force: max_weight_per_asset: 0.25 (25.0%) → 0.2 (20.0%).")
    ).to_be_visible()
    _caption(page, 1)
    expect(page.get_by_text("Editing version 1.", exact=False)).to_be_visible()
    _edit(page, "less room before the kill switch", max_drawdown=0.12)
    expect(
        page.get_by_text("Version 2 in force: max_drawdown: 0.15 (15.0%) → 0.12 (12.0%).")
    ).to_be_visible()
    _caption(page, 2)
    version, limits = _in_force(server)
    assert (version, limits["max_weight_per_asset"], limits["max_drawdown"]) == (2, 0.2, 0.12)
    history = _history(page)
    assert history[0][:3] == ["version", "when", "who"]
    assert [(row[0], row[4], row[5]) for row in history[1:]] == [
        (
            "2",
            "less room before the kill switch",
            "max_drawdown: 0.15 (15.0%) → 0.12 (12.0%)",
        ),
        ("1", "tighter single-name risk", "max_weight_per_asset: 0.25 (25.0%) → 0.2 (20.0%)"),
    ]
    check_axe(page)

    # A second browser (another desk) opens the page at version 2 and applies first.
    other_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        other = other_context.new_page()
        open_page(other, server, "risk")
        _caption(other, 2)
        _tab(other, "Change limits")
        _edit(other, "smaller tickets", max_order_notional=20000)
        expect(
            other.get_by_text(re.compile(r"^Version 3 in force: max_order_notional"))
        ).to_be_visible()
    finally:
        other_context.close()
    # This tab still holds version 2: its change is refused and nothing is overwritten.
    _tab(page, "Change limits")
    _edit(page, "late edit", max_weight_per_asset=0.1)
    refusal = page.get_by_text(
        re.compile(
            r"^Not applied, nothing was overwritten: limits changed by local at "
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(now version 3; you loaded version 2\); "
            r"reload and apply your change again\.$"
        )
    )
    expect(refusal).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"^This form holds version 2, but local changed"))
    ).to_be_visible()
    version, limits = _in_force(server)
    assert (version, limits["max_weight_per_asset"], limits["max_order_notional"]) == (
        3,
        0.2,
        20000.0,
    )
    expect(_limit_input(page, "max_weight_per_asset")).to_have_value("0.1000")  # edit kept
    click_button(page, "Reload the limits in force")
    expect(_limit_input(page, "max_order_notional")).to_have_value("20000.00")
    expect(page.get_by_text(re.compile(r"^This form holds version"))).to_have_count(0)

    # Invalid values: a specific message beside the field, nothing saved.
    _edit(page, "too loose", max_weight_per_asset=1.5)
    beside = page.locator('[data-testid="stColumn"]').filter(
        has=_limit_input(page, "max_weight_per_asset")
    )
    expect(beside.locator('[data-testid="stAlertContentError"]')).to_contain_text(
        "Max weight per asset must be a fraction of equity in (0, 1]"
    )
    _edit(page, "no burst trading", max_weight_per_asset=0.2, max_orders_per_minute=0)
    expect(
        page.get_by_text(re.compile(r"^Max orders per minute must be a whole number of orders"))
    ).to_be_visible()
    _edit(page, "", max_orders_per_minute=10)
    expect(page.get_by_text(re.compile(r"^Reason for the change: say why"))).to_be_visible()
    assert _in_force(server)[0] == 3
    assert len(_history(page)) == 1 + 3
    assert_no_exception(page)
    check_axe(page)


def test_the_books_risk_at_800_px(narrow_page: Any, server: Any) -> None:
    server.cli("paper", "run", "--session", "book", "--steps", "30", "--train-bars", "300")
    page = narrow_page
    open_page(page, server, "risk")
    sidebar_collapses(page)
    panel = _tab(page, "Portfolio risk")
    expect(
        panel.get_by_text(re.compile(r"^Book of paper session 'book' as of \d{4}-\d\d-\d\d\.$"))
    ).to_be_visible()
    cards = panel.locator('[data-testid="stMetricValue"]')
    expect(cards).to_have_count(9)
    expect(cards.first).to_have_text(re.compile(r"^\$\d{1,3}(,\d{3})*$"))  # equity in dollars
    assert_not_truncated(cards)
    _tab(page, "Limits in force")
    wait_idle(page)
    assert_no_exception(page)
    check_axe(page)
