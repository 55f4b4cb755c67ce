"""The trader's journey in a real browser: an alert channel (a webhook to a receiver this
test runs on 127.0.0.1) and a rule, with a test send the receiver gets; then a
simulated-live paper session started from the page (seeded, 260 training bars), its
live view refreshing as bars are processed, paused (the cursor holds), resumed and
killed with flatten (every position zero, the state shown); the live view at 800 px."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import expect

from app.components.paper_start import FEED_TEXT
from tests.browser.helpers import (
    assert_no_exception,
    assert_not_truncated,
    check_axe,
    click_button,
    open_page,
    sidebar_collapses,
    toggle,
)
from tests.polling import wait_until

SESSION = "desk"
SPEED = 2  # bars/s: a new bar at each of the view's 2 s refreshes, or sooner
WORKER_S = 240_000  # ms: the worker process starts and tunes its agents on a busy machine


@dataclass
class Receiver:
    """A webhook on 127.0.0.1: every POST's path, content type and JSON body."""

    port: int
    received: list[dict[str, Any]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook on a free loopback port, served from a thread of this test."""
    received: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(
                {
                    "path": self.path,
                    "type": self.headers.get("Content-Type", ""),
                    "body": json.loads(body),
                }
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(int(server.server_address[1]), received)
    finally:
        server.shutdown()
        server.server_close()


def _tab(page: Any, name: str) -> Any:
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.get_by_role("tabpanel", name=name)
    expect(panel).to_be_visible()
    return panel


def _type(where: Any, label: str, value: object) -> None:
    """Type into a form's input and commit it with Tab (Enter would submit the form early;
    inside a form nothing reruns, so there is no run to wait for)."""
    box = where.get_by_label(label, exact=True)
    box.fill(str(value))
    box.press("Tab")


def _card(page: Any, label: str) -> Any:
    """The value of the metric card labelled ``label`` (a locator: expect() retries it)."""
    return (
        page.locator('[data-testid="stMetric"]')
        .filter(has=page.locator('[data-testid="stMetricLabel"]').get_by_text(label, exact=True))
        .locator('[data-testid="stMetricValue"]')
    )


def _status(server: Any) -> dict[str, Any]:
    """The session's state as ``workbench paper status`` reads it from the database."""
    return dict(json.loads(server.cli("paper", "status", "--session", SESSION, "--json").stdout))


def test_alert_channel_rule_and_a_test_send_the_webhook_gets(
    page: Any, server: Any, receiver: Receiver
) -> None:
    port = receiver.port
    open_page(page, server, "alerts")
    check_axe(page)
    channels = _tab(page, "Channels")
    _type(channels, "Name", "desk-hook")
    _type(channels, "Apprise URL (stored encrypted)", f"json://127.0.0.1:{port}/hook")
    click_button(page, "Save channel")
    expect(
        page.get_by_text(f"Channel desk-hook saved: json://127.0.0.1:{port}/****")
    ).to_be_visible()
    # The new channel is offered, and chosen, in the same run that saved it.
    expect(channels.get_by_role("combobox", name="Send a test through")).to_have_value("desk-hook")
    click_button(page, "Send test")
    expect(page.get_by_text("Test alert sent via desk-hook.")).to_be_visible()
    wait_until(lambda: receiver.received, "the webhook to receive the test alert", timeout_s=30)
    (got,) = receiver.received
    assert got["path"] == "/hook" and got["type"].startswith("application/json")
    assert got["body"]["type"] == "info"
    assert got["body"]["message"] == (
        "[info] test alert from the workbench via desk-hook (sent by local)"
    )
    check_axe(page)

    rules = _tab(page, "Rules")
    _type(rules, "Name", "dd-5")
    _type(rules, "Threshold: fraction of peak equity", 0.05)
    box = rules.locator('[data-testid="stMultiSelect"]').filter(
        has=page.get_by_text("Channels", exact=True)
    )
    box.get_by_role("combobox").click()
    page.get_by_role("option", name="desk-hook", exact=True).click()
    page.keyboard.press("Escape")
    click_button(page, "Save rule")
    expect(page.get_by_text("Rule dd-5 saved.")).to_be_visible()
    table = rules.locator('[data-testid="stDataFrame"] table').first
    expect(table).to_contain_text("dd-5")
    expect(table).to_contain_text("5.0%")
    expect(table).to_contain_text("in-app, desk-hook")
    listed = json.loads(server.cli("alerts", "list", "--json").stdout)
    (rule,) = [r for r in listed["rules"] if r["name"] == "dd-5"]
    assert (rule["kind"], rule["threshold"], rule["channels"]) == (
        "drawdown",
        0.05,
        ["in-app", "desk-hook"],
    )
    history = _tab(page, "History")
    expect(history.get_by_text("Sent", exact=True)).to_be_visible()
    assert_no_exception(page)


def test_start_watch_pause_resume_and_kill_with_flatten(
    page: Any, narrow_page: Any, server: Any
) -> None:
    # A worker left by a failed run is stopped at module teardown (tests/browser/conftest.py).
    open_page(page, server, "paper")
    expect(page.get_by_text(re.compile(r"^No paper session yet"))).to_be_visible()
    check_axe(page)
    form = page.locator('[data-testid="stForm"]')
    _type(form, "Session", SESSION)
    # A radio inside the form: its click reruns nothing until the form is submitted.
    form.locator('[data-testid="stRadio"] label').filter(
        has_text=re.compile(rf"^{re.escape(FEED_TEXT['simulated'])}$")
    ).click()
    _type(form, "Speed (bars/s)", SPEED)
    _type(form, "Training bars", 260)  # the form's minimum: the fewest the agents tune on
    form.get_by_text("I confirm starting the worker", exact=True).click()
    click_button(page, "Start")
    expect(
        page.get_by_text(re.compile(r"^Worker started \(pid \d+\); it tunes its agents"))
    ).to_be_visible()
    assert_no_exception(page)

    # The live view refreshes on its own (every 2 s) as the worker processes bars.
    expect(page.get_by_text("SIMULATED-LIVE", exact=True)).to_be_visible(timeout=WORKER_S)
    bar, equity, worker = _card(page, "Bar"), _card(page, "Equity"), _card(page, "Worker")
    expect(bar).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d$"), timeout=WORKER_S)
    first = bar.inner_text()
    expect(bar).not_to_have_text(first, timeout=30_000)
    expect(equity).to_have_text(re.compile(r"^\$\d{2,3},\d{3}$"))
    expect(equity).not_to_have_text("$100,000", timeout=30_000)  # it trades (fees at least)
    expect(worker).to_have_text("running")
    check_axe(page)

    click_button(page, "Pause")
    expect(page.get_by_text("Pause requested: the worker acts at its next bar.")).to_be_visible()
    expect(worker).to_have_text("paused", timeout=30_000)
    expect(_card(page, "Desired state")).to_have_text("paused")
    held = _status(server)
    assert held["heartbeat"]["status"] == "paused"
    later = wait_until(
        lambda: (s := _status(server))["heartbeat"]["ts"] > held["heartbeat"]["ts"] and s,
        "a heartbeat while paused",
        timeout_s=30,
    )
    assert later["heartbeat"]["status"] == "paused"
    assert later["session"]["cursor"] == held["session"]["cursor"]  # no bar while paused
    paused_bar = bar.inner_text()

    click_button(page, "Resume")
    expect(page.get_by_text("Resume requested: the worker acts at its next bar.")).to_be_visible()
    expect(worker).to_have_text("running", timeout=30_000)
    expect(bar).not_to_have_text(paused_bar, timeout=30_000)

    # Kill with flatten (ticked by default), confirmed.
    expect(page.get_by_label("Flatten positions on kill")).to_be_checked()
    toggle(page, "I confirm the kill switch")
    click_button(page, "Kill")
    # once the run settles the message is shown once (a stale copy may linger mid-rerun)
    expect(page.get_by_text(re.compile(r"^Kill switch engaged"))).to_have_count(1)
    expect(worker).to_have_text("not running", timeout=60_000)
    expect(_card(page, "Desired state")).to_have_text("stopped")
    expect(_card(page, "Unrealized P&L")).to_have_text("$0")
    final = _status(server)
    assert final["positions"] and all(abs(p["qty"]) < 1e-9 for p in final["positions"])
    assert final["control"]["desired_state"] == "stopped" and not final["alive"]
    book = _tab(page, "Symbols").locator('[data-testid="stDataFrame"] table').first
    expect(book).to_contain_text("Position")
    expect(book).not_to_contain_text("None")  # the rule agents trade: no P(up) column
    assert_no_exception(page)
    check_axe(page)

    # The same live view at 800 px: the sidebar folds away, no card's figure is cut.
    narrow = narrow_page
    open_page(narrow, server, "paper")
    sidebar_collapses(narrow)
    narrow.get_by_text("Session and controls", exact=True).click()  # fold the form away
    cards = narrow.locator('[data-testid="stMetricValue"]')
    expect(cards).to_have_count(10)
    expect(narrow.get_by_text("SIMULATED-LIVE", exact=True)).to_be_visible()
    expect(_card(narrow, "Desired state")).to_have_text("stopped")
    assert_not_truncated(cards)
    assert_no_exception(narrow)
    check_axe(narrow)
