"""Paper trading: start a replayed, simulated-live or live session; pause, resume and
kill the worker; watch its feed, book, model health and drift."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import cached
from app.components import paper_live as live_ui
from app.components.paper import (
    equity_figure,
    gauges_figure,
    render_decision_panel,
    render_headline,
)
from app.components.paper_page_parts import render_orders
from app.components.paper_start import record_errors, render_start_form, request_from_state
from app.operations.paper import KillRequest, PauseRequest, ResumeRequest
from app.services import paper, paper_monitor
from app.services.auth import PermissionDenied
from app.session import current_actor

st.title("Paper trading")
actor = current_actor()
st.caption(
    ("Local single-user mode (all roles). " if actor.local_mode else f"Signed in as {actor.name}. ")
    + "The worker is a separate process supervised through the database; controls take "
    "effect at its next bar (a kill with no worker running is carried out at once). One "
    "worker per session. Feeds: replay (a dataset, as fast as it runs), simulated-live (a "
    "dataset on the wall clock at the chosen speed, no keys) or Alpaca (live bars)."
)

FLASH = "paper.flash"
FLATTEN = KillRequest.model_fields["flatten"].default
clock = st.session_state.get("paper.clock")  # injected by tests; default: the wall clock


def _flash(kind: str, text: str) -> None:
    st.session_state.setdefault(FLASH, []).append((kind, text))


def _start() -> None:
    """Start button (a callback, so the confirmation box can be reset for the next run).

    The request is validated, and the session created (or checked), before the worker
    starts: a refusal is shown beside its field, never after "Worker started".
    """
    ss = st.session_state
    confirmed, ss["paper.confirm_start"] = ss.get("paper.confirm_start", False), False
    if not confirmed:
        _flash("error", "Tick the confirmation box to start the worker.")
        return
    try:
        request = request_from_state(ss)
        pid = paper.start_worker_process(request, speed=float(ss["paper.speed"]), actor=actor)
    except (ValidationError, ValueError) as exc:
        record_errors(exc)
        _flash("error", "The session was not started: see the message beside the field.")
    except PermissionDenied as exc:
        _flash("error", str(exc))
    else:
        _flash("success", f"Worker started (pid {pid}); it tunes its agents, then trades.")


def _control(state: str) -> None:
    """Pause / resume: nothing changes (and the page says why) without a running worker."""
    try:
        kind = PauseRequest if state == "paused" else ResumeRequest
        outcome = paper.set_state(kind(reason=f"{state} from the dashboard"), actor=actor)
    except PermissionDenied as exc:
        _flash("error", str(exc))
        return
    if outcome.changed:
        verb = "Pause" if state == "paused" else "Resume"
        _flash("info", f"{verb} requested: the worker acts at its next bar.")
    else:
        _flash("warning", outcome.message[:1].upper() + outcome.message[1:] + ".")


def _kill() -> None:
    ss = st.session_state
    confirmed, ss["paper.confirm_kill"] = ss.get("paper.confirm_kill", False), False
    if not confirmed:
        _flash("error", "Tick 'I confirm the kill switch' first.")
        return
    try:
        request = KillRequest(
            flatten=bool(ss.get("paper.flatten", FLATTEN)), reason="kill switch from the dashboard"
        )
        outcome = paper.set_state(request, actor=actor)
    except PermissionDenied as exc:
        _flash("error", str(exc))
    else:
        _flash("warning", f"{outcome.message[:1].upper()}{outcome.message[1:]}.")


with st.expander("Session and controls", expanded=True):
    datasets = [str(d["name"]) for d in cached.dataset_infos()]
    render_start_form(datasets, cached.symbols, _start, alpaca_keys=paper_monitor.alpaca_keys_set())
    b1, b2, b3, b4 = st.columns([1, 1, 1, 2])
    b1.button("Pause", key="paper.pause", on_click=_control, args=("paused",))
    b2.button("Resume", key="paper.resume", on_click=_control, args=("running",))
    b4.checkbox("Flatten positions on kill", value=FLATTEN, key="paper.flatten")
    b4.checkbox("I confirm the kill switch", key="paper.confirm_kill")
    b3.button("Kill", type="primary", key="paper.kill", on_click=_kill)
    for kind, text in st.session_state.pop(FLASH, []):
        getattr(st, kind)(text)

refresh = st.toggle("Live refresh (every 2 s; off to pause the view)", value=True, key="paper.live")


@st.fragment(run_every=2.0 if refresh else None)
def monitor() -> None:
    """The live view, re-run on its own every 2 s while live refresh is on."""
    view = paper.monitor()
    if view.session is None:
        st.info("No paper session yet. Start one above, or run `workbench paper run --replay`.")
        return
    status = paper_monitor.status(view, clock() if clock else None)
    live_ui.render_status(view, status)
    render_headline(view, status)
    tabs = st.tabs(
        ["Symbols", "Equity", "Risk", "Model health", "Drift", "Orders", "Decisions", "Health"]
    )
    symbols_tab, chart, risk_tab, model_tab, drift_tab, book, decisions, health = tabs
    with symbols_tab:
        live_ui.render_book(view)
        live_ui.render_alerts(*paper_monitor.session_alerts(view.session["name"]))
    with chart:
        if len(view.equity):
            st.plotly_chart(equity_figure(view.equity), width="stretch", key="paper.equity")
    with risk_tab:
        report = paper.risk_report(view)
        utilization = {} if report is None else dict(report.utilization)
        if utilization:
            st.plotly_chart(gauges_figure(utilization), width="stretch", key="paper.gauges")
            st.caption("Share of each risk limit in use (100% = at the limit).")
    with model_tab:
        live_ui.render_model_health(view)
        live_ui.render_live_test(view)
    with drift_tab:
        live_ui.render_drift(view, paper_monitor.drift_threshold())
    with book:
        render_orders(view)
    with decisions:
        render_decision_panel(view)
    with health:
        live_ui.render_health(view)


monitor()
