"""A/B compare page: two or more strategies or saved runs, tested together."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from pydantic import ValidationError

from app import state
from app.components.abtest import (
    render_equity,
    render_tests,
    render_verdict,
    sequential_table,
)
from app.components.abtest_page_parts import arm_inputs
from app.components.jobs import job_panel, run_id_of, submit_job
from app.operations.abtest import CompareRequest
from app.operations.errors import field_errors
from app.services import registry
from app.services import runs as run_store

if TYPE_CHECKING:
    from app.services.jobs import JobView

st.title("A/B compare")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
st.caption(
    f"Arms run on {dataset}/{symbol} with the same costs and period (saved runs keep theirs; "
    "only their common days are compared). Daily returns are tested in pairs; one "
    "pre-declared primary test (HAC paired t-test, adjusted across pairs) decides."
)
saved = [r for r in run_store.list_runs(kind="backtest", limit=200)]
versions = registry.list_versions()

DEFAULTS = CompareRequest.model_fields
LABELS = {"arms": "Arms", "alpha": "Significance level α", "n_boot": "Bootstrap resamples"}


compare_tab, size_tab = st.tabs(["Compare", "Sample size"])
with compare_tab:
    # No st.form here: choosing an arm's source must show that source's picker at once.
    with st.container(border=True):
        arms, problems = arm_inputs(saved, versions)
        c1, c2, c3 = st.columns(3)
        alpha = c1.number_input(
            "Significance level α", 0.001, 0.2, DEFAULTS["alpha"].default, 0.01, key="ab.alpha"
        )
        correction = c2.radio(
            "Correction",
            ["holm", "fdr_bh"],
            horizontal=True,
            key="ab.corr",
            format_func={"holm": "Holm-Bonferroni", "fdr_bh": "Benjamini-Hochberg"}.get,
        )
        n_boot = c3.number_input(
            "Bootstrap resamples", 200, 20000, DEFAULTS["n_boot"].default, 100, key="ab.boot"
        )
        go_compare = st.button("Compare", type="primary", key="ab.compare")
    if go_compare and problems:
        for problem in problems:
            st.error(problem)
    elif go_compare:
        try:
            request = CompareRequest(
                dataset=dataset,
                symbol=symbol,
                arms=arms,
                alpha=alpha,
                correction=correction,
                n_boot=int(n_boot),
            )
        except ValidationError as exc:
            for error in field_errors(exc, labels=LABELS):
                st.error(error.message)
        else:
            submit_job("abtest", request)

    def _show(job: JobView) -> None:
        from app.services import abtest as ab  # core.abtest: scipy, statsmodels
        from app.services.abtest_reopen import reopen_abtest

        stored = reopen_abtest(run_id_of(job), job.result or {})
        st.session_state["ab.run_id"] = stored.run_id
        render_verdict(stored.result)
        render_equity(stored.equity)
        render_tests(stored.result)
        st.markdown("**Sequential test** (Wald SPRT, as a live shadow test would stop early)")
        delta_bps = st.number_input(
            "Edge to detect (bp per day)", 0.1, 50.0, 1.0, 0.1, key="ab.sprt_delta"
        )
        st.dataframe(
            sequential_table(ab.sequential(stored, delta_bps=delta_bps)),
            width="stretch",
            hide_index=True,
        )

    job_panel("abtest", on_done=_show)

with size_tab:
    st.markdown(
        "How many trading days are needed to detect a Sharpe difference "
        "(Jobson-Korkie-Memmel test)?"
    )
    with st.form("ab.size_form"):
        s1, s2, s3, s4, s5 = st.columns(5)
        diff = s1.number_input("Sharpe difference (ann.)", -5.0, 5.0, 0.5, 0.1, key="ab.sz.d")
        base = s2.number_input("Sharpe of B (ann.)", -5.0, 5.0, 0.5, 0.1, key="ab.sz.b")
        rho = s3.number_input("Correlation of A and B", -0.99, 0.99, 0.5, 0.05, key="ab.sz.r")
        size_alpha = s4.number_input("α", 0.001, 0.2, 0.05, 0.01, key="ab.sz.a")
        power = s5.number_input("Power", 0.5, 0.99, 0.8, 0.05, key="ab.sz.p")
        size_go = st.form_submit_button("Calculate")
    if size_go:
        from app.services import abtest as ab

        try:
            days = ab.days_needed(
                diff, sharpe_b=base, correlation=rho, alpha=size_alpha, power=power
            )
        except ValueError as exc:
            st.error(str(exc))
        else:
            st.metric("Trading days needed", f"{days:,}")
            st.caption(f"About {days / 252:.1f} years of daily data.")
