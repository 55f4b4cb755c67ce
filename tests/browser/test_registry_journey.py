"""The PM's registry journey in a real browser: two versions of one model (trained and
registered through the CLI), compared side by side in their units, promoted one after the
other and rolled back, each step read back from the page (the flash, the champions line,
the versions table, the audit trail) and at the end from the CLI; the key screen at 800 px."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import (
    assert_no_exception,
    check_axe,
    click_button,
    open_page,
    sidebar_collapses,
)
from tests.polling import wait_until

FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]
PROMOTE = "I confirm: the current champion of this name is archived"
ROLLBACK = "I confirm: the champion is archived and the previous one restored"
REASON = "Reason (kept in the audit trail)"


@pytest.fixture(scope="module")
def alpha(server: Any) -> list[dict[str, Any]]:
    """Versions 1 and 2 of model "alpha", from two small training runs (C=1 and C=0.01)."""
    versions = []
    features = [arg for name in FEATURES for arg in ("--feature", name)]
    for c in ("1.0", "0.01"):
        done = server.cli(
            "train", "--model", "logistic", *features, "--param", f"C={c}",
            "--register", "alpha", "--json",
        )  # fmt: skip
        trained = json.loads(done.stdout)
        versions.append({**trained["registered"], "run_id": trained["run_id"]})
    return versions


def _label(version: dict[str, Any], stage: str) -> str:
    """How the page's select boxes name a version (its AUC to 4 decimals)."""
    auc = version["metrics"]["roc_auc"]
    return f"alpha v{version['version']} · {stage} · logistic · AUC {auc:.4f} · id {version['id']}"


def _grid_rows(page: Page, *headers: str, timeout_s: float = 30.0) -> list[list[str]]:
    """The rows (header first) of the first ``st.dataframe`` whose header row holds
    ``headers``. A grid draws (and fills its accessible mirror, which holds raw values)
    once it is in view, so each grid is scrolled into view before it is read."""
    grids = page.locator('[data-testid="stDataFrame"]')
    read = """(grid) => Array.from(grid.querySelectorAll('table tr')).map((tr) =>
        Array.from(tr.querySelectorAll('th, td')).map((c) => (c.textContent || '').trim()))"""

    def found() -> list[list[str]] | None:
        for index in range(grids.count()):
            grid = grids.nth(index)
            grid.scroll_into_view_if_needed()
            rows = [list(row) for row in grid.evaluate(read) if any(row)]
            if rows and set(headers) <= set(rows[0]) and len(rows) > 1:
                return rows
        return None

    return list(wait_until(found, f"a table with the columns {headers}", timeout_s=timeout_s))


def _stages_shown(page: Page) -> dict[str, str]:
    """The versions table's stage of each version ("1" -> "champion")."""
    rows = _grid_rows(page, "name", "version", "stage")
    column = {name: i for i, name in enumerate(rows[0])}
    return {r[column["version"]]: r[column["stage"]] for r in rows[1:]}


def _expect_stages(page: Page, expected: dict[str, str]) -> None:
    """The versions table comes to show ``expected`` (the grid redraws after the run)."""
    seen: list[dict[str, str]] = []

    def shown() -> bool:
        seen.append(_stages_shown(page))
        return seen[-1] == expected

    try:
        wait_until(shown, f"the versions table to show {expected}", timeout_s=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it shows {seen[-1:]}") from None


def _form(page: Page, button: str) -> Locator:
    return page.locator('[data-testid="stForm"]').filter(
        has=page.get_by_role("button", name=button, exact=True)
    )


def _act(page: Page, button: str, reason: str, confirm: str, version: str | None = None) -> None:
    """Fill the form of ``button`` (the version, a reason, the confirmation) and submit it.
    Inside a form nothing reruns until the submit, so the widgets are set directly."""
    form = _form(page, button)
    if version is not None:
        combo = form.get_by_role("combobox", name="Version (candidate or archived)")
        combo.scroll_into_view_if_needed()  # a scroll while the list is open would close it
        combo.click()
        page.get_by_role("option", name=version, exact=True).click()
        expect(combo).to_have_value(version)
    box = form.get_by_role("textbox", name=REASON)
    box.fill(reason)
    box.press("Tab")  # Enter would submit the form before the confirmation
    form.get_by_text(confirm, exact=True).click()
    click_button(page, button)


def _value_fits(locator: Locator) -> None:
    """The input's whole value is drawn inside its box (an input clips, it never wraps)."""
    fits = locator.evaluate(
        """(input) => {
            const style = getComputedStyle(input);
            const context = document.createElement('canvas').getContext('2d');
            context.font = style.font;
            const room = input.clientWidth - parseFloat(style.paddingLeft)
                - parseFloat(style.paddingRight);
            return context.measureText(input.value).width <= room + 1;
        }"""
    )
    assert fits, f"the value is cut: {locator.input_value()!r}"


def test_compare_promote_and_roll_back(page: Page, server: Any, alpha: list[Any]) -> None:
    v1, v2 = alpha
    open_page(page, server, "registry")
    expect(page.get_by_text("2 version(s) of 1 model(s); champions: none.")).to_be_visible()
    _expect_stages(page, {"1": "candidate", "2": "candidate"})
    check_axe(page)

    # the comparison: columns named by label, numbers in their units, no long floats
    compare = _grid_rows(page, "differs", "alpha v2", "alpha v1")
    assert compare[0][-3:] == ["differs", "alpha v2", "alpha v1"]
    body = {row[0]: row[-3:] for row in compare[1:]}
    assert body["ROC-AUC"] == [
        "≠",
        f"{v2['metrics']['roc_auc']:.4f}",
        f"{v1['metrics']['roc_auc']:.4f}",
    ]
    assert body["Accuracy"][1:] == [
        f"{v2['metrics']['accuracy']:.2%}",
        f"{v1['metrics']['accuracy']:.2%}",
    ]
    assert body["Features"] == ["", "4", "4"]
    assert body["param: C"] == ["≠", "0.01", "1"]
    assert body["Training run"][1:] == [f"#{v2['run_id']}", f"#{v1['run_id']}"]
    cells = [cell for row in compare for cell in row]
    assert not [c for c in cells if re.search(r"\d\.\d{7,}", c)], cells

    # a promotion without its confirmation is refused with a sentence, nothing changes
    box = _form(page, "Promote to champion").get_by_role("textbox", name=REASON)
    box.fill("first champion")
    box.press("Tab")
    click_button(page, "Promote to champion")
    expect(page.get_by_text("Tick the confirmation box to promote.")).to_be_visible()

    _act(page, "Promote to champion", "first champion", PROMOTE, _label(v1, "candidate"))
    expect(page.get_by_text("alpha v1 is now the champion.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"; champions: alpha v1\. "))).to_be_visible()
    _expect_stages(page, {"1": "champion", "2": "candidate"})
    # both forms start again empty and unticked: each action needs its own confirmation
    promote_form = _form(page, "Promote to champion")
    expect(promote_form.get_by_role("textbox", name=REASON)).to_have_value("")
    expect(promote_form.get_by_role("checkbox", name=PROMOTE)).not_to_be_checked()
    expect(promote_form.get_by_role("combobox")).to_have_value(_label(v2, "candidate"))

    _act(page, "Promote to champion", "better AUC", PROMOTE, _label(v2, "candidate"))
    expect(page.get_by_text("alpha v2 is now the champion.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"; champions: alpha v2\. "))).to_be_visible()
    _expect_stages(page, {"1": "archived", "2": "champion"})
    rollback_form = _form(page, "Roll back")
    expect(rollback_form.get_by_role("combobox", name="Model")).to_have_value("alpha")
    expect(rollback_form.get_by_text("Champions now: alpha v2.", exact=False)).to_be_visible()

    _act(page, "Roll back", "v2 misbehaves live", ROLLBACK)
    expect(page.get_by_text("Rolled back alpha: v1 is the champion again.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"; champions: alpha v1\. "))).to_be_visible()
    _expect_stages(page, {"1": "champion", "2": "archived"})

    audit = wait_until(  # the grid redraws after the run: wait for the last two events
        lambda: (
            (rows := _grid_rows(page, "action", "version", "reason")) and len(rows) == 8 and rows
        ),
        "the audit trail's seven events",
        timeout_s=60,
    )
    column = {name: i for i, name in enumerate(audit[0])}
    shown = [
        (r[column["action"]], r[column["version"]], r[column["from"]], r[column["to"]],
         r[column["reason"]])
        for r in audit[1:]
    ]  # fmt: skip
    assert shown == [
        ("restore", "alpha v1", "archived", "champion", "v2 misbehaves live"),
        ("rollback", "alpha v2", "champion", "archived", "v2 misbehaves live"),
        ("promote", "alpha v2", "candidate", "champion", "better AUC"),
        ("archive", "alpha v1", "champion", "archived", "replaced by v2"),
        ("promote", "alpha v1", "candidate", "champion", "first champion"),
        ("register", "alpha v2", "", "candidate", f"from training run {v2['run_id']}"),
        ("register", "alpha v1", "", "candidate", f"from training run {v1['run_id']}"),
    ]
    assert {r[column["actor"]] for r in audit[1:]} == {"local"}
    assert_no_exception(page)
    check_axe(page)

    # the CLI reads the same registry
    listed = json.loads(server.cli("registry", "list", "--json").stdout)["versions"]
    assert {v["version"]: v["stage"] for v in listed} == {1: "champion", 2: "archived"}


def test_the_registry_at_800_px(narrow_page: Page, server: Any, alpha: list[Any]) -> None:
    open_page(narrow_page, server, "registry")
    sidebar_collapses(narrow_page)
    expect(narrow_page.get_by_role("heading", name="Compare two versions")).to_be_visible()
    for label in ("Version A", "Version B", "Version (candidate or archived)"):
        _value_fits(narrow_page.get_by_role("combobox", name=label))
    compare = _grid_rows(narrow_page, "differs")
    assert {row[0] for row in compare[1:]} >= {"ROC-AUC", "Accuracy", "Stage"}
    expect(narrow_page.get_by_role("button", name="Promote to champion")).to_be_visible()
    # the journey may or may not have promoted a champion on this shared server yet
    rollback = narrow_page.get_by_role("button", name="Roll back")
    no_champion = narrow_page.get_by_text("No model has a champion to roll back.")
    expect(rollback.or_(no_champion)).to_be_visible()
    check_axe(narrow_page)
    assert_no_exception(narrow_page)
