"""Every page of the navigation, opened at its own URL in a real browser: it renders its title,
no Python exception and no JavaScript error, has no critical axe-core violation, and at 800 px
its sidebar collapses and no figure is cut. The journeys (other modules) use the pages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from app.main import PAGES
from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    open_page,
    sidebar_collapses,
)

URLS = [(url, title) for _section, _file, title, _icon, url in PAGES]


def test_the_root_opens_the_first_page_at_its_own_url(page: Any, server: Any) -> None:
    open_page(page, server, "")
    first_url, first_title = URLS[0]
    expect(page).to_have_url(server.url(first_url))
    expect(page.locator("h1").first).to_have_text(first_title)


def test_every_page_renders_at_its_own_url_without_errors_or_critical_violations(
    page: Any, server: Any
) -> None:
    for url, title in URLS:
        open_page(page, server, url)
        expect(page, f"/{url} moved away from its own URL").to_have_url(server.url(url))
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.locator("h1").first, f"/{url}").to_have_text(title)
        assert_no_exception(page)
        check_axe(page)


@pytest.mark.parametrize("url", [url for url, _title in URLS[::2]] + [URLS[-1][0]])
def test_at_800_px_the_sidebar_collapses_and_no_figure_is_cut(
    narrow_page: Any, server: Any, url: str
) -> None:
    open_page(narrow_page, server, url)
    sidebar_collapses(narrow_page)
    assert_no_exception(narrow_page)
    assert_not_truncated(narrow_page.locator('[data-testid="stMetricValue"]'))
