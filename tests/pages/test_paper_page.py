"""Paper trading through the dashboard: start a real worker process, pause, kill."""

from __future__ import annotations

import time

import pytest

from app.operations.paper import PaperRequest
from app.services import paper
from tests.pages.helpers import metrics, open_app

START = "FormSubmitter:paper.start_form-Start"


def _wait(predicate, timeout: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def _cursor() -> int:
    view = paper.monitor()
    return -1 if view.session is None else int(view.session["cursor"])


def test_dashboard_runs_a_replayed_session_end_to_end() -> None:
    at = open_app("paper")
    assert any("No paper session yet" in i.value for i in at.info)
    at.toggle(key="paper.live").set_value(False).run()
    at.number_input(key="paper.speed").set_value(200.0)
    at.button(key=START).click().run()
    assert any("Tick the confirmation box" in e.value for e in at.error)
    assert paper.monitor().session is None
    # settings other than the defaults reach the worker: cash, fees, slippage and seed
    at.number_input(key="paper.cash").set_value(50_000.0)
    at.number_input(key="paper.fees").set_value(10.0)  # bps
    at.number_input(key="paper.slippage").set_value(2.0)
    at.number_input(key="paper.seed").set_value(7)
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("Worker started" in s.value for s in at.success)
    assert at.checkbox(key="paper.confirm_start").value is False  # reset for the next start
    _wait(lambda: _cursor() >= 1040)  # trading after 1,000 training bars
    at.run()
    view = paper.monitor()
    shown = metrics(at)
    assert shown["Worker"] == "running" and shown["Desired state"] == "running"
    assert len(view.orders) > 0 and len(view.fills) > 0
    assert view.session is not None and view.account is not None
    config = view.session["config"]
    assert (config["initial_cash"], config["fees"], config["slippage"], config["seed"]) == (
        50_000.0,
        0.001,
        0.0002,
        7,
    )
    assert view.account["initial_cash"] == 50_000.0
    for fill in view.fills.itertuples():  # the worker charged the page's fee
        assert fill.fee == pytest.approx(0.001 * fill.qty * fill.price, rel=1e-12)
    # Pause: the cursor stops moving.
    at.button(key="paper.pause").click().run()
    _wait(lambda: (paper.monitor().heartbeat or {}).get("status") == "paused")
    paused_at = _cursor()
    time.sleep(1.0)
    assert _cursor() == paused_at
    # Kill needs a confirmation, then flattens and stops the worker.
    at.button(key="paper.kill").click().run()
    assert any("confirm the kill switch" in e.value for e in at.error)
    at.checkbox(key="paper.confirm_kill").check()
    at.button(key="paper.kill").click().run()
    assert any("Kill switch engaged" in w.value for w in at.warning)
    assert at.checkbox(key="paper.confirm_kill").value is False  # reset after the kill
    _wait(lambda: (paper.monitor().heartbeat or {}).get("status") == "killed")
    at.run()
    view = paper.monitor()
    assert (view.positions["qty"].abs() < 1e-9).all()
    assert view.control["desired_state"] == "stopped"
    assert metrics(at)["Unrealized P&L"] == "0"
    assert metrics(at)["Equity"] == metrics(at)["Cash"]


def test_controls_without_a_worker_say_so_and_change_nothing() -> None:
    paper.run_worker(PaperRequest(), steps=2)
    before = paper.monitor().control
    at = open_app("paper")
    at.toggle(key="paper.live").set_value(False).run()
    at.button(key="paper.pause").click().run()
    assert any("No paper worker is running" in w.value for w in at.warning)
    at.button(key="paper.resume").click().run()
    assert any("nothing to resume" in w.value for w in at.warning)
    assert paper.monitor().control == before
    # a kill with no worker is carried out at once, and its box is cleared
    at.checkbox(key="paper.flatten").uncheck()
    at.checkbox(key="paper.confirm_kill").check()
    at.button(key="paper.kill").click().run()
    assert any("Kill switch engaged" in w.value for w in at.warning)
    assert at.checkbox(key="paper.confirm_kill").value is False
    assert paper.monitor().control["desired_state"] == "stopped"
    at.button(key="paper.kill").click().run()  # not confirmed again: refused
    assert any("confirm the kill switch" in e.value for e in at.error)


def test_a_request_the_worker_would_refuse_is_refused_before_it_starts() -> None:
    at = open_app("paper")
    at.toggle(key="paper.live").set_value(False).run()
    at.multiselect(key="paper.symbols").set_value(["GOOG"])  # 2,148 bars
    at.number_input(key="paper.train").set_value(4000)
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("Training bars 4000 leaves no bars to trade in 2148" in e.value for e in at.error)
    assert not any("Worker started" in s.value for s in at.success)
    assert paper.monitor().session is None  # nothing was created
    at.text_input(key="paper.session").set_value("bad name!")
    at.number_input(key="paper.train").set_value(1000)
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("Session may use only letters" in e.value for e in at.error), [
        e.value for e in at.error
    ]
    assert paper.monitor().session is None
