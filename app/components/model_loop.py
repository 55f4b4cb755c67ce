"""The Models page's live sections: running A/B tests (SPRT), pending promotions, retention."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.operations.registry import DecidePromotionRequest, LiveTestsRequest, RetainRequest
from app.services import auth, registry_loop
from app.services.registry_loop import LiveTestView
from core.config import get_settings

FLASH = "registry.loop.flash"
ERRORS = (auth.PermissionDenied, LookupError, ValueError)


def sprt_figure(test: LiveTestView) -> go.Figure:
    """The log-LR path of a live test with its two boundaries."""
    path = pd.DataFrame(test.path)
    fig = go.Figure()
    if not path.empty:
        fig.add_trace(go.Scatter(x=path["n"], y=path["log_lr"], mode="lines", name="log LR"))
    for y, label in ((test.upper, "accept H1 (challenger better)"), (test.lower, "accept H0")):
        fig.add_hline(y=y, line_dash="dash", annotation_text=f"{label}: {y:.2f}")
    fig.update_layout(
        title=f"Live test #{test.id}: {test.challenger} vs {test.champion}",
        xaxis_title="bars observed (n)",
        yaxis_title="log likelihood ratio",
        height=320,
        margin={"t": 50, "b": 40},
    )
    return fig


def render_live_tests() -> None:
    """The newest live tests: status line, the deciding rule and the log-LR chart."""
    tests = registry_loop.live_tests(LiveTestsRequest(limit=5, path=True))
    if not tests:
        st.info(
            "No live A/B test yet. Start a paper session with a challenger "
            "(workbench paper run --model NAME@champion --challenger NAME:VERSION)."
        )
        return
    for test in tests:
        log_lr = f"{test.log_lr:.3f}" if test.log_lr is not None else "n/a (burn-in)"
        st.markdown(
            f"**#{test.id} · session {test.session}** — challenger **{test.challenger}** vs "
            f"champion **{test.champion}**: **{test.decision}** after n = {test.n} bars, "
            f"log LR {log_lr} (promotion: {test.promotion})"
        )
        st.caption(test.rule)
        st.plotly_chart(sprt_figure(test), width="stretch", key=f"registry.sprt.{test.id}")


def render_promotions(actor: auth.Actor, labels: Mapping[int, str]) -> None:
    """Pending promotion requests, each with Approve / Reject (PM); ``labels`` name the
    versions (``momentum_lr v2``)."""
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    pending = registry_loop.promotion_requests()
    if not pending:
        st.info("No promotion waits for approval.")
        return
    for request in pending:
        with st.form(f"registry.promotion.{request['id']}"):
            st.markdown(
                f"**Request #{request['id']}**: promote "
                f"{labels.get(request['version_id'], request['model'])} — {request['rule']}"
            )
            reason = st.text_input("Reason (kept in the audit trail)", key=f"pr.{request['id']}")
            approve, reject = st.columns(2)
            ok = approve.form_submit_button("Approve", type="primary")
            no = reject.form_submit_button("Reject")
        chosen: Callable[..., dict[str, object]] | None = None
        if ok:
            chosen = registry_loop.approve_promotion
        elif no:
            chosen = registry_loop.reject_promotion
        if chosen is not None:
            try:
                done = chosen(
                    DecidePromotionRequest(request_id=request["id"], reason=reason), actor=actor
                )
            except ERRORS as exc:
                st.error(str(exc))
            else:
                st.session_state[FLASH] = f"Request #{done['id']} {done['status']}."
                st.rerun()


def render_retention(actor: auth.Actor) -> None:
    """What retention would delete, and a confirmed button that deletes it."""
    default = get_settings().registry_keep
    keep = st.number_input(
        "Best candidates kept per model", 0, 1000, default, key="registry.retain.keep"
    )
    plan = registry_loop.retain(RetainRequest(keep=int(keep), dry_run=True), actor=actor)
    payload = plan.as_dict()
    rows = [{**i, "action": "delete"} for i in payload["deleted"]]
    rows += [{**i, "action": "keep"} for i in payload["kept"]]
    if not rows:
        st.info("No registered versions.")
        return
    frame = pd.DataFrame(rows)[["action", "id", "name", "version", "stage", "metric", "why"]]
    st.dataframe(frame, width="stretch", hide_index=True, key="registry.retain.table")
    if not payload["deleted"]:
        st.caption("Nothing to delete: every version is kept.")
        return
    with st.form("registry.retain"):
        confirm = st.checkbox(
            f"I confirm: delete the artifacts of {len(payload['deleted'])} version(s)",
            key="registry.retain.confirm",
        )
        go_ = st.form_submit_button("Apply retention")
    if go_:
        if not confirm:
            st.error("Tick the confirmation box to delete artifacts.")
            return
        try:
            done = registry_loop.retain(RetainRequest(keep=int(keep)), actor=actor)
        except ERRORS as exc:
            st.error(str(exc))
        else:
            st.session_state[FLASH] = f"Retention deleted {len(done.deletions)} artifact(s)."
            st.rerun()


__all__ = ["render_live_tests", "render_promotions", "render_retention", "sprt_figure"]
