"""The Jobs page in a real browser: a job submitted from its page, its progress moving with
the work, cancelled from the Jobs page (the live table follows), and a finished job's result
read there and opened on its page; the key screen at 800 px."""

from __future__ import annotations

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
    fill_number,
    open_page,
    sidebar_collapses,
    table_rows,
    wait_idle,
)
from tests.polling import wait_until

JOB_S = 120_000  # ms: a job on a busy two-core machine
HEADER = ["id", "kind", "owner", "status", "progress %", "message", "created", "duration"]


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A rerun on a loaded two-core machine can take longer than expect()'s 5 s."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def _submit_compare(page: Any, server: Any, resamples: int) -> int:
    """Press Compare on the A/B page with ``resamples``; the id of the job it opened."""
    open_page(page, server, "abtest")
    fill_number(page, "Bootstrap resamples", resamples)
    click_button(page, "Compare")
    status = page.get_by_text(re.compile(r"Job #\d+ \(abtest\) (queued|running|done)"))
    expect(status.first).to_be_visible(timeout=JOB_S)
    found = re.search(r"Job #(\d+)", status.first.inner_text())
    assert found is not None
    return int(found.group(1))


def _row(page: Any, job_id: int) -> dict[str, str]:
    """The Jobs table's row of ``job_id`` as shown ({} while it is not there)."""
    rows = table_rows(page, 0)
    if not rows or rows[0][: len(HEADER)] != HEADER:
        return {}
    for cells in rows[1:]:
        if cells and cells[0] == str(job_id):
            return dict(zip(rows[0], cells, strict=False))
    return {}


def test_a_job_its_progress_a_cancel_and_a_result(page: Any, server: Any, narrow_page: Any) -> None:
    long_job = _submit_compare(page, server, 20000)
    # Its progress bar moves with the work: the worker's message names the resamples done.
    bar = page.locator('[data-testid="stProgress"]')
    expect(bar).to_contain_text(re.compile(r"\d+% · pair 1/1 .* resamples"), timeout=JOB_S)
    first = str(bar.inner_text())
    expect(bar).not_to_have_text(first, timeout=JOB_S)  # and again, further on
    expect(page.get_by_role("button", name="Cancel")).to_be_visible()
    check_axe(page)

    open_page(page, server, "jobs")
    check_axe(page)
    running = wait_until(
        lambda: (row := _row(page, long_job)) and row["status"] == "running" and row,
        "the running job in the Jobs table",
        timeout_s=60,
    )
    assert (running["kind"], running["owner"]) == ("abtest", "local")
    assert "resamples" in running["message"]
    caption = page.get_by_text(re.compile(rf"^Job #{long_job}: pair 1/1 .* resamples$"))
    expect(caption).to_be_visible()
    click_button(page, "Cancel")
    asked = f"job {long_job} is running: its worker was asked to stop (within a second)"
    expect(page.get_by_text(asked)).to_be_visible()
    cancelled = wait_until(  # the live table re-reads the jobs every 2 seconds
        lambda: (row := _row(page, long_job)) and row["status"] == "cancelled" and row,
        "the cancelled job in the live Jobs table",
        timeout_s=60,
    )
    assert cancelled["message"]  # where it stopped
    assert_no_exception(page)

    short_job = _submit_compare(page, server, 200)
    expect(page.get_by_text(f"Job #{short_job} (abtest) done")).to_be_visible(timeout=JOB_S)
    open_page(page, server, "jobs")
    expect(page.get_by_text(re.compile(rf"^Job #{short_job}: saved as run \d+$"))).to_be_visible()
    fields = {row[0]: row[1] for row in _table_with(page, "Field")[1:] if len(row) >= 2}
    assert fields["primary test"] == "HAC paired t-test"
    assert fields["verdict"].startswith("no significant difference (decided by HAC paired t-test")
    assert fields["n obs"] == "5,030"
    run_id = fields["run id"]
    assert run_id.isdigit()
    page.get_by_text("Whole result (JSON").click()
    code = page.locator('[data-testid="stCode"]').last
    expect(code).to_contain_text(f'"run_id": {run_id}')
    assert not re.search(r"\d\.\d{12,}", str(code.inner_text()))  # no 16-digit floats
    check_axe(page)
    click_button(page, "Open on its page")
    expect(page).to_have_url(re.compile(rf"/abtest\?job={short_job}$"))
    expect(page.get_by_text(f"Job #{short_job} (abtest) done")).to_be_visible()
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="Verdict:")).to_be_visible()
    assert_no_exception(page)

    # the key screen at 800 px: the Jobs table and a job's details
    open_page(narrow_page, server, "jobs")
    sidebar_collapses(narrow_page)
    expect(narrow_page.get_by_text(re.compile(rf"^Job #{short_job}: saved as run"))).to_be_visible()
    assert _row(narrow_page, long_job)["status"] == "cancelled"
    assert_not_truncated(narrow_page.get_by_role("heading", name="Jobs"))
    check_axe(narrow_page)
    wait_idle(narrow_page)
    assert_no_exception(narrow_page)


def _table_with(page: Any, text: str) -> list[list[str]]:
    """The rows (header first, cells as shown) of the first ``st.dataframe`` with a cell that
    reads ``text``; each grid is scrolled into view first, since one draws when seen."""
    grids = page.locator('[data-testid="stDataFrame"]')
    expect(grids.first).to_be_attached()
    for index in range(grids.count()):
        grid = grids.nth(index)
        grid.scroll_into_view_if_needed()
        table = grid.locator("table")
        expect(table).to_be_attached()
        rows = table.evaluate(
            """(t) => Array.from(t.querySelectorAll('tr')).map((tr) =>
                Array.from(tr.querySelectorAll('th, td')).map((c) => c.textContent.trim()))"""
        )
        if any(text in row for row in rows):
            return [list(row) for row in rows if any(row)]
    raise AssertionError(f"no table with a cell {text!r}")
