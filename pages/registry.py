"""Model registry page: versions, side-by-side comparison, promote / roll back, audit trail."""

from __future__ import annotations

import streamlit as st

from app import cached, state
from app.components.model_loop import render_live_tests, render_promotions, render_retention
from app.components.predict import render_predict
from app.components.registry import render_compare, render_events, render_versions
from app.components.registry_page_parts import (
    CONFIRMATION_DEFAULTS,
    FLASH,
    RESET_CONFIRMATIONS,
    render_promote,
    render_rollback,
)
from app.components.report_pack import render_report_pack_button
from app.components.retrain import render_retraining
from app.services import registry
from app.session import current_actor

st.title("Model registry")
versions = registry.list_versions()
by_id = {v.id: v for v in versions}


def _label(version_id: int) -> str:
    """A version in a picker, by what never changes about it: Streamlit keeps a picker's
    choice by its label, so a stage in it would drop the choice after each promotion."""
    v = by_id[version_id]
    auc = v.metrics.get("roc_auc")
    auc_text = f"AUC {auc:.4f}" if isinstance(auc, int | float) else "AUC n/a"
    return f"{v.label} · {v.kind} · {auc_text} · id {v.id}"


def _eligible_label(version_id: int) -> str:
    """A version in the Promote picker, with its stage: a candidate or archived version
    leaves that list when it is promoted, so its label holds while it is offered."""
    v = by_id[version_id]
    return f"{v.label} · {v.stage} · {_label(version_id).removeprefix(v.label + ' · ')}"


if st.session_state.pop(RESET_CONFIRMATIONS, False):
    # Set, not popped: a popped key leaves the browser showing (and sending back) the
    # widget's last value; a value set here is pushed to the browser.
    st.session_state.update(CONFIRMATION_DEFAULTS)

flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)

if not versions:
    st.info("No registered models yet. Train one on the Training page and register it there.")
else:
    champions = {v.name: v for v in versions if v.stage == "champion"}
    st.caption(
        f"{len(versions)} version(s) of {len({v.name for v in versions})} model(s); "
        f"champions: {', '.join(f'{n} v{v.version}' for n, v in champions.items()) or 'none'}. "
        "Each artifact's checksum is verified before it is promoted or restored."
    )
    render_versions(versions)
    with st.expander("Report pack (HTML and PDF) for the PM"):
        st.caption(
            "Backtest and paper results side by side, walk-forward DSR and PBO, risk "
            "utilization, A/B verdicts with their deciding test, data hashes and code version."
        )
        pack_model = st.selectbox(
            "Model of the report pack",
            sorted({v.name for v in versions}),
            key="registry.pack.model",
        )
        render_report_pack_button("model", pack_model)

    st.subheader("Compare two versions")
    if len(versions) < 2:
        st.info("Register a second version to compare.")
    else:
        ids = [v.id for v in versions]
        c1, c2 = st.columns(2)
        a = c1.selectbox("Version A", ids, index=0, format_func=_label, key="registry.compare.a")
        b = c2.selectbox("Version B", ids, index=1, format_func=_label, key="registry.compare.b")
        only_diff = st.toggle("Only rows that differ", key="registry.compare.diff_only")
        if a == b:
            st.warning("Pick two different versions.")
        else:
            render_compare(by_id[a], by_id[b], only_differences=only_diff)

    promote_col, rollback_col = st.columns(2)
    with promote_col:
        render_promote(versions, _eligible_label)
    with rollback_col:
        render_rollback(versions, champions)

if versions:
    st.subheader("Batch prediction")
    dataset = state.get(state.DATASET)
    render_predict(versions, dataset, cached.symbols(dataset), _label)

st.subheader("Live A/B tests")
render_live_tests()
st.subheader("Pending promotions")
render_promotions(current_actor(), {v.id: v.label for v in versions})
if versions:
    st.subheader("Retention")
    render_retention(current_actor())

st.subheader("Audit trail")
render_events(registry.events(), {v.id: v.label for v in versions})

st.subheader("Retraining history")
render_retraining(state.get(state.DATASET), state.get(state.SYMBOL) or "SP500")
