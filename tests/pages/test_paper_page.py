"""Paper trading through the dashboard: start a replayed session, pause, kill.

The page starts the worker process (``paper run --session NAME --speed S``); here that
command is run in-process on an injected clock, and the user acts on the page from
inside the worker's sleep between bars: no wall-clock sleeps.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.operations.paper import PaperRequest
from app.services import paper
from core.paper import control
from tests.pages.helpers import metrics, open_app
from tests.pages.test_risk_page import arrow_fallbacks, table_with  # noqa: F401  (fixture)

START = "FormSubmitter:paper.start_form-Start"


def _cursor() -> int:
    view = paper.monitor()
    return -1 if view.session is None else int(view.session["cursor"])


def test_dashboard_runs_a_replayed_session_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(control, "start_detached", lambda cmd, **_: started.append(cmd) or 4242)
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
    assert any("Worker started (pid 4242)" in s.value for s in at.success)
    assert at.checkbox(key="paper.confirm_start").value is False  # reset for the next start
    assert started[0][-5:] == ["--session", "default", "--speed", "200.0", "--json"]
    now = [datetime.now(UTC)]
    seen: dict[str, Any] = {"paused_at": None, "paused_beats": 0}

    def operator(seconds: float) -> None:
        """The worker's sleep: the clock moves, and the user acts on the page."""
        now[0] += timedelta(seconds=seconds)
        cursor = _cursor()
        if seen["paused_at"] is None:
            if cursor >= 1040:  # trading after 1,000 training bars
                at.run()
                shown = metrics(at)
                seen["shown"] = (shown["Worker"], shown["Desired state"])
                at.button(key="paper.pause").click().run()  # the cursor stops moving
                seen["paused_at"] = cursor
            return
        if (paper.monitor().heartbeat or {}).get("status") != "paused":
            return
        assert cursor <= seen["paused_at"] + 1
        seen["paused_beats"] += 1
        if seen["paused_beats"] == 1:
            seen["held"] = cursor
        assert cursor == seen["held"]
        if seen["paused_beats"] == 3:
            # Kill needs a confirmation, then flattens and stops the worker.
            at.button(key="paper.kill").click().run()
            assert any("confirm the kill switch" in e.value for e in at.error)
            at.checkbox(key="paper.confirm_kill").check()
            at.button(key="paper.kill").click().run()
            assert any("Kill switch engaged" in w.value for w in at.warning)
            assert at.checkbox(key="paper.confirm_kill").value is False  # reset after the kill

    summary = paper.run_worker(
        "default", steps=None, speed=200.0, sleep=operator, clock=lambda: now[0]
    )
    assert summary["state"] == "killed" and seen["paused_beats"] >= 3, (summary, seen)
    assert seen["shown"] == ("running", "running")
    at.run()
    view = paper.monitor()
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
    assert (view.positions["qty"].abs() < 1e-9).all()
    assert view.control["desired_state"] == "stopped"
    assert metrics(at)["Unrealized P&L"] == "$0"
    assert metrics(at)["Equity"] == metrics(at)["Cash"] == f"${view.account['equity']:,.0f}"
    assert "REPLAY" in "\n".join(m.value for m in at.markdown)


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


def test_a_refusal_is_shown_beside_its_field_in_the_forms_words() -> None:
    at = open_app("paper")
    at.toggle(key="paper.live").set_value(False).run()
    at.radio(key="paper.feed").set_value("simulated")
    at.selectbox(key="paper.timeframe").set_value("1Min")
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    beside = [c for c in at.columns if len(c.error)]
    assert len(beside) == 1 and [s.label for s in beside[0].selectbox] == ["Timeframe"]
    assert beside[0].error[0].value == (
        "Timeframe 1Min does not match dataset 'ohlcv_daily', whose bars are 1Day; pass "
        "Timeframe 1Day or pick a dataset with 1Min bars."
    )
    assert any("see the message beside the field" in e.value for e in at.error)
    assert paper.monitor().session is None  # nothing was created
    at.selectbox(key="paper.timeframe").set_value("1Day")
    at.text_input(key="paper.model").set_value("alpha")  # not a reference
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    beside = [c for c in at.columns if len(c.error)]
    assert [t.label for t in beside[0].text_input] == ["Model"]
    assert beside[0].error[0].value.startswith("Model reference 'alpha': write NAME:VERSION")


def columns(table: Any) -> dict[str, Any]:
    """A shown table's column configuration, by column."""
    return dict(json.loads(table.proto.columns))


def test_figures_are_shown_in_their_units_and_no_table_mixes_types(
    arrow_fallbacks: list[str],  # noqa: F811
) -> None:
    """Money in dollars, dates without midnight's time, no 16-digit floats in the health
    tables, and no table that Streamlit has to fix up for Arrow."""
    paper.run_worker(PaperRequest(train_bars=300), steps=30)
    view = paper.monitor()
    at = open_app("paper")
    at.toggle(key="paper.live").set_value(False).run()
    assert not at.exception
    shown = metrics(at)
    realized = view.positions["realized_pnl"].sum()
    assert shown["Realized P&L"] == f"${realized:,.0f}".replace("$-", "-$")
    assert shown["Bar"] == f"{view.session['cursor_ts']:%Y-%m-%d}"
    session = table_with(at, "field", "value").set_index("field")["value"]
    assert session["cursor_ts"] == f"{view.session['cursor_ts']:%Y-%m-%d}"
    assert session["peak_equity"] == f"${view.session['peak_equity']:,.2f}"
    assert session["symbols"] == "AAPL, GOOG, IBM, MSFT, SP500"
    fills = next(d for d in at.dataframe if "fee" in d.value.columns)
    formats = {k: v.get("type_config", {}).get("format") for k, v in columns(fills).items()}
    assert (formats["price"], formats["fee"], formats["ts"]) == ("dollar", "dollar", "YYYY-MM-DD")
    headers = {k: v.get("label") for k, v in columns(fills).items() if k != "_index"}
    assert headers == {
        "ts": "Bar",
        "symbol": "Symbol",
        "side": "Side",
        "qty": "Quantity",
        "price": "Price",
        "fee": "Fee",
    }  # in words, not the ledger's column names
    orders = next(d for d in at.dataframe if "client_order_id" in d.value.columns)
    assert "client_order_id" not in {v.get("label") for v in columns(orders).values()}
    assert arrow_fallbacks == []


def test_too_few_training_bars_are_refused_before_a_worker_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agents need 260 bars to tune: a start with fewer used to report "Worker
    started", then the detached worker failed out of sight and the page never traded."""
    started: list[list[str]] = []
    monkeypatch.setattr(control, "start_detached", lambda cmd, **_: started.append(cmd) or 4242)
    with pytest.raises(ValidationError, match="greater than or equal to 260"):
        PaperRequest(train_bars=250)  # every front end: the request refuses it
    unchecked = PaperRequest.model_construct(**{**PaperRequest().model_dump(), "train_bars": 250})
    with pytest.raises(ValueError, match=r"^train_bars 250 is too few .*: enter 260 or more$"):
        paper.start_worker_process(unchecked, speed=1.0)  # and the service, before a start
    assert started == [] and paper.monitor().session is None
    at = open_app("paper")
    assert at.number_input(key="paper.train").min == paper.MIN_TRAIN_BARS == 260
