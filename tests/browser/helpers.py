"""What a browser test does on a Streamlit page: open it, wait for its run, use its widgets,
read what it shows, and check its accessibility with the vendored axe-core."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
APP = '[data-testid="stApp"]'
IDLE = f'{APP}[data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'
#: Counts the app's script runs in ``window.__wbRuns`` (installed on every new document by
#: the ``page`` fixtures), so an action can wait for the run it caused, however short.
RUN_COUNTER = """
window.__wbRuns = 0;
new MutationObserver((records) => {
  for (const record of records) {
    if (record.target.getAttribute('data-test-script-state') === 'running') window.__wbRuns++;
  }
}).observe(document, {
  attributes: true, subtree: true, attributeFilter: ['data-test-script-state'],
});
"""


def runs(page: Page) -> int:
    """How many script runs the page has started since it loaded."""
    return int(page.evaluate("() => window.__wbRuns || 0"))


def after(page: Page, before: int, timeout_s: float = 60.0) -> None:
    """Wait for a run started after the count ``before`` (up to 5 s) and for its end."""
    try:
        page.wait_for_function("(n) => (window.__wbRuns || 0) > n", arg=before, timeout=5000)
    except Exception:  # the action caused no run (an unchanged value, a client-side widget)
        pass
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000, state="attached")


def in_form(element: Locator) -> bool:
    """Whether ``element`` sits in an ``st.form`` (its widgets rerun nothing until submitted)."""
    return bool(element.evaluate("(el) => el.closest('[data-testid=\"stForm\"]') !== null"))


def settle(page: Page, element: Locator, before: int) -> None:
    """After a widget action: outside a form, wait for the run it caused; in a form, none."""
    if not in_form(element):
        after(page, before)


def wait_idle(page: Page, timeout_s: float = 60.0) -> None:
    """Wait until the page's script run has finished (a rerun may take a moment to start)."""
    try:
        page.wait_for_selector(
            f'{APP}[data-test-script-state="running"]', timeout=400, state="attached"
        )
    except Exception:  # the run was quick, or nothing reran
        pass
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000, state="attached")


def open_page(page: Page, server: Any, url_path: str, timeout_s: float = 90.0) -> None:
    """Go to ``url_path`` on ``server`` and wait for the page's first run to finish."""
    page.goto(server.url(url_path))
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000, state="attached")
    expect(page.locator('[data-testid="stMain"]')).to_be_visible()
    wait_idle(page, timeout_s)


def assert_no_exception(page: Page) -> None:
    """No Streamlit exception box (a Python traceback) in the page."""
    boxes = page.locator('[data-testid="stException"]')
    if boxes.count():
        raise AssertionError(
            f"a Python exception is shown in the page:\n{boxes.first.inner_text()}"
        )


def check_axe(page: Page, *, impacts: tuple[str, ...] = ("critical",)) -> list[dict[str, Any]]:
    """Run axe-core on the page; fail listing every violation of the given impacts."""
    source = AXE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    assert digest == AXE_SHA256, f"vendored axe.min.js changed (sha256 {digest})"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source.decode())
    result = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    found = [v for v in result["violations"] if v.get("impact") in impacts]
    if found:
        lines = [
            f"{v['id']} ({v['impact']}): {v['help']} -> "
            + "; ".join(node["target"][0] if node["target"] else "?" for node in v["nodes"][:5])
            for v in found
        ]
        raise AssertionError("axe-core violations:\n" + "\n".join(lines))
    return list(result["violations"])


def assert_not_truncated(locator: Locator) -> None:
    """Each matched element shows its whole text (no overflow cut or ellipsis)."""
    for index in range(locator.count()):
        element = locator.nth(index)
        cut = element.evaluate(
            """(el) => {
                const nodes = [el, ...el.querySelectorAll('*')];
                return nodes.some((n) => n.scrollWidth > n.clientWidth + 1
                    && getComputedStyle(n).overflow !== 'visible');
            }"""
        )
        assert not cut, f"text is truncated: {element.inner_text()!r}"


def _widget(page: Page | Locator, testid: str, label: str) -> Locator:
    return page.locator(f'[data-testid="{testid}"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]').get_by_text(label, exact=True)
    )


def click_button(page: Page, name: str, *, exact: bool = True) -> None:
    """Click the button (or form submit button) named ``name`` and wait for the rerun."""
    before = runs(page)
    page.get_by_role("button", name=name, exact=exact).first.click()
    after(page, before)


def fill_number(page: Page, label: str, value: float | int) -> None:
    """Type ``value`` into the number input labelled ``label`` and commit it (Tab). In a
    form, nothing reruns until the form is submitted."""
    box = _widget(page, "stNumberInput", label).locator("input")
    before = runs(page)
    box.fill(str(value))
    box.press("Tab")  # commits it; Enter would also submit an enclosing form
    settle(page, box, before)


def fill_text(page: Page, label: str, value: str) -> None:
    """Type ``value`` into the text input (or text area) labelled ``label`` and commit it."""
    for testid in ("stTextInput", "stTextArea"):
        found = _widget(page, testid, label)
        if found.count():
            box = found.locator("input, textarea").first
            before = runs(page)
            box.fill(value)
            box.press("Tab")  # commits it; Enter would also submit an enclosing form
            settle(page, box, before)
            return
    raise AssertionError(f"no text input labelled {label!r}")


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label`` (a combobox in Streamlit 1.67)."""
    combo = _widget(page, "stSelectbox", label).get_by_role("combobox")
    combo.scroll_into_view_if_needed()  # a scroll while the list is open closes it
    combo.click()
    before = runs(page)
    page.get_by_role("option", name=option, exact=True).click()
    settle(page, combo, before)


def multiselect(page: Page, label: str, options: list[str], *, clear: bool = False) -> None:
    """Add ``options`` to the multiselect labelled ``label`` (after clearing it if ``clear``)."""
    box = _widget(page, "stMultiSelect", label)
    if clear:
        before = runs(page)
        box.get_by_role("button", name="Clear all").click()
        settle(page, box, before)
    for option in options:
        box.get_by_role("combobox").fill(option)
        before = runs(page)
        page.get_by_role("option", name=option, exact=True).click()
        settle(page, box, before)
    page.keyboard.press("Escape")


def radio(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the radio group labelled ``label``."""
    group = _widget(page, "stRadio", label)
    before = runs(page)
    group.locator("label").filter(has_text=re.compile(rf"^{re.escape(option)}$")).click()
    settle(page, group, before)


def toggle(page: Page, label: str) -> None:
    """Click the checkbox or toggle labelled ``label``."""
    target = page.get_by_text(label, exact=True).first
    before = runs(page)
    target.click()
    settle(page, target, before)


def upload(page: Page, label: str, path: Path) -> None:
    """Upload ``path`` through the file uploader labelled ``label``; in a form, wait until the
    uploader lists the file (nothing reruns before the form is submitted)."""
    widget = _widget(page, "stFileUploader", label)
    before = runs(page)
    widget.locator('input[type="file"]').set_input_files(str(path))
    if in_form(widget):
        expect(widget).to_contain_text(path.name)
    else:
        after(page, before)


def metric_value(page: Page, label: str) -> str:
    """The value shown by the ``st.metric`` labelled ``label``."""
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True)
    )
    expect(card.first).to_be_visible()
    return str(card.first.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def table_rows(page: Page, index: int = 0, *, timeout_s: float = 60.0) -> list[list[str]]:
    """The cells of the ``index``-th table (``st.table`` or ``st.dataframe``) as text.

    ``st.dataframe`` draws on a canvas; its accessible grid mirror holds the cells' raw
    values (not the column formats) and fills in once the grid has drawn, so this scrolls the
    table into view and waits for a non-empty body.
    """
    frame = page.locator('[data-testid="stTable"], [data-testid="stDataFrame"]').nth(index)
    expect(frame).to_be_visible()
    frame.scroll_into_view_if_needed()  # the mirror sits inside the grid's canvas: never visible
    table = frame.locator("table").first
    read = """(table) => Array.from(table.querySelectorAll('tr')).map((tr) =>
        Array.from(tr.querySelectorAll('th, td')).map((c) => (c.textContent || '').trim()))"""
    page.wait_for_function(
        f"(t) => ({read})(t).filter((r) => r.some((c) => c)).length > 1",
        arg=table.element_handle(),
        timeout=timeout_s * 1000,
    )
    rows = table.evaluate(read)
    return [list(row) for row in rows if any(row)]


def sidebar_collapses(page: Page) -> None:
    """Collapse the sidebar: it must leave the view, the main block widen, and a control to
    open it again stay visible."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    main = page.locator('[data-testid="stMain"]')
    before = main.bounding_box()
    assert before is not None
    assert sidebar.get_attribute("data-collapsed") == "false", "the sidebar starts open"
    sidebar.hover()
    page.locator('[data-testid="stSidebarCollapseButton"] button').click()
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    page.wait_for_function(
        "(w) => document.querySelector('[data-testid=\"stMain\"]')"
        ".getBoundingClientRect().width > w + 100",
        arg=before["width"],
    )
    expect(page.locator('[data-testid="stExpandSidebarButton"]')).to_be_visible()


def table_with(page: Page, text: str) -> list[list[str]]:
    """The rows (header first, cells as text) of the first ``st.dataframe`` or ``st.table``
    with a cell reading ``text``; each grid is scrolled into view first, since one draws
    (and fills its accessible mirror) only once seen."""
    frames = page.locator('[data-testid="stTable"], [data-testid="stDataFrame"]')
    expect(frames.first).to_be_visible()
    read = """(t) => Array.from(t.querySelectorAll('tr')).map((tr) =>
        Array.from(tr.querySelectorAll('th, td')).map((c) => (c.textContent || '').trim()))"""
    for index in range(frames.count()):
        frames.nth(index).scroll_into_view_if_needed()
        rows = [
            list(row) for row in frames.nth(index).locator("table").first.evaluate(read) if any(row)
        ]
        if any(text in row for row in rows):
            return rows
    raise AssertionError(f"no table with a cell {text!r}")
