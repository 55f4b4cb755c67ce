"""The Backtest page's parts: a reopened single run, and the Saved runs tab."""

from __future__ import annotations

import streamlit as st

from app import state
from app.components.backtest import (
    REOPENED_HERE,
    RUN_KINDS,
    render_backtest,
    render_saved_runs,
    saved_runs_frame,
)
from app.components.jobs import forget_job
from app.components.report import render_tearsheet
from app.components.report_pack import render_report_pack_button
from app.components.universe import REOPENED as UV_RUN_ID
from app.services import backtest
from app.services import runs as run_store

PF_RUN_ID = "pf.run_id"
"""Session key of the portfolio run the Portfolio tab shows."""


def render_run(run_id: int) -> None:
    """A saved single backtest: its heading, regime note, results, tearsheet and report pack."""
    outcome = backtest.reopen_backtest(run_id)
    st.subheader(f"Run #{run_id}: {outcome.request.strategy} on {outcome.request.symbol}")
    if outcome.regime_note:
        st.info(outcome.regime_note)
    render_backtest(outcome)
    render_tearsheet(outcome)
    with st.expander(f"Report pack of {outcome.request.strategy} (HTML and PDF) for the PM"):
        render_report_pack_button("strategy", outcome.request.strategy)


def render_saved_tab() -> None:
    """Saved runs of every kind, filtered by kind; those of this page's tabs (and the Sweep
    page's) reopen from here."""
    saved = run_store.list_runs(limit=200)
    if not saved:
        st.info(
            "No saved runs yet. Every backtest, portfolio, universe backtest and sweep is "
            "saved here automatically."
        )
        return
    kinds = sorted({r.kind for r in saved}, key=lambda k: (k not in REOPENED_HERE, k))
    shown = st.multiselect(
        "Kinds",
        kinds,
        key="saved.kinds",
        placeholder="All kinds",
        format_func=lambda k: RUN_KINDS.get(k, (k, ""))[0],
    )  # empty: every kind, also one saved after this was set
    listed = [r for r in saved if not shown or r.kind in shown]
    render_saved_runs(saved_runs_frame(listed))
    st.caption(
        "Sharpe and total return: the run's own; a sweep's best combination; a universe "
        "backtest's median symbol; a dash for a run without them. Training, "
        "walk-forward, A/B, ensemble and prediction runs reopen on their own pages."
    )
    here = [r for r in listed if r.kind in REOPENED_HERE]
    if here:
        choice = st.selectbox(
            "Reopen run",
            [r.id for r in here],
            key="saved.choice",
            format_func=lambda i: next(
                f"#{r.id} {RUN_KINDS[r.kind][0]}: {r.title}" for r in here if r.id == i
            ),
        )
        if st.button("Reopen", key="saved.reopen"):
            kind = next(r.kind for r in here if r.id == choice)
            target = {
                "backtest": state.BT_RUN_ID,
                "portfolio": PF_RUN_ID,
                "universe": UV_RUN_ID,
                "sweep": state.SW_RUN_ID,
            }[kind]
            st.session_state[target] = choice
            if kind == "sweep":
                forget_job("sweep")  # the Sweep page shows this run, not its last job
            if kind == "universe":
                forget_job("universe")
            st.session_state["saved.reopened"] = (choice, kind)
            st.rerun()
    reopened = st.session_state.get("saved.reopened")
    if reopened:
        st.success(f"Run #{reopened[0]} reopened in {RUN_KINDS[reopened[1]][1]}.")
