"""Retraining replay: a policy form, the recorded decision history, counts and a timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from pydantic import ValidationError

from app.components.jobs import job_panel, submit_job
from app.operations.retrain import ReplayRequest
from app.services import retrain

if TYPE_CHECKING:
    from app.services.jobs import JobView

DECISIONS = ("promoted", "kept", "rolled_back")
DECISION_COLORS = {"promoted": "#2e7d32", "kept": "#8b949e", "rolled_back": "#c62828"}
DECISION_SYMBOLS = {"promoted": "triangle-up", "kept": "circle", "rolled_back": "triangle-down"}
METRICS = ("sharpe", "total_return", "hit_rate")
ALL_MODELS = "all models"
LAST = "retrain.last"


def history_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Decision history (newest first) as a display table."""
    frame = pd.DataFrame(
        rows, columns=["id", "model", "as_of", "decision", "trigger", "reason", "replay", "numbers"]
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["champion"] = [(n or {}).get("champion") for n in frame["numbers"]]
    frame["challenger"] = [(n or {}).get("challenger") for n in frame["numbers"]]
    return frame


def decision_counts(frame: pd.DataFrame) -> dict[str, int]:
    """How many decisions of each kind (every kind present, zero when absent)."""
    return {k: int((frame["decision"] == k).sum()) for k in DECISIONS}


def timeline_figure(frame: pd.DataFrame) -> go.Figure:
    """Decisions as markers over time (one row per model), coloured by decision."""
    fig = go.Figure()
    for kind in DECISIONS:
        part = frame[frame["decision"] == kind]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["as_of"],
                y=part["model"],
                mode="markers",
                name=kind,
                marker={
                    "color": DECISION_COLORS[kind],
                    "symbol": DECISION_SYMBOLS[kind],
                    "size": 11,
                    "line": {"width": 0.5, "color": "#24292f"},
                },
                customdata=part[["trigger", "reason"]].to_numpy(),
                hovertemplate="%{x|%Y-%m-%d} "
                + kind
                + "<br>%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            )
        )
    n_models = max(1, frame["model"].nunique())
    fig.update_layout(
        height=160 + 45 * n_models,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.15},
        yaxis_title=None,
    )
    return fig


def _form(dataset: str, symbol: str) -> ReplayRequest | None:
    with st.form("retrain.form"):
        c1, c2, c3, c4 = st.columns(4)
        metric = c1.selectbox(
            "Health metric", list(METRICS), key="retrain.metric", help="Champion's rolling metric"
        )
        threshold = c2.number_input(
            "Retrain when below",
            value=0.0,
            step=0.05,
            format="%.3f",
            key="retrain.threshold",
            help="In the metric's units: Sharpe annualized (e.g. 0), total return as a "
            "fraction (e.g. -0.05), hit rate as the share of positive bars (e.g. 0.5).",
        )
        window = c3.number_input("Window (bars)", 20, 2000, 126, 1, key="retrain.window")
        cooldown = c4.number_input("Cool-down (bars)", 0, 2000, 63, 1, key="retrain.cooldown")
        model = st.radio(
            "Model retrained by the policy",
            ["ma_crossover", "logistic", "random_forest", "xgboost"],
            horizontal=True,
            key="retrain.model_kind",
            help="A re-tuned moving-average crossover, or a classifier retrained on the "
            "trailing 750 bars and traded through its probability.",
        )
        submitted = st.form_submit_button("Replay policy over history", type="primary")
    if not submitted:
        return None
    try:
        return ReplayRequest(
            dataset=dataset,
            symbol=symbol,
            metric=metric,
            threshold=float(threshold),
            window_bars=int(window),
            # the trusted-sample minimum cannot exceed the window
            min_samples=min(63, int(window)),
            cooldown_bars=int(cooldown),
            model=model,
        )
    except ValidationError as exc:
        for err in exc.errors():
            st.error(f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
    return None


def _replayed(job: JobView) -> None:
    """A finished replay job: its recorded decisions, counted from its result."""
    result = job.result or {}
    name, counts = str(result.get("model_name", "")), dict(result.get("counts") or {})
    n = len(result.get("decisions") or ())
    parts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    st.success(f"Replay job #{job.id} ({name}): {n} decisions recorded: {parts}.")
    st.session_state[LAST] = (name, n, counts)


def render_retraining(dataset: str, symbol: str) -> None:
    """Replay the retraining policy on ``dataset/symbol`` and show the recorded decisions."""
    st.markdown(
        "**Retraining policy replay**: what a performance-triggered retrain (a re-tuned moving-"
        "average crossover, promoted only on a significant A/B verdict, rolled back after a "
        "weak probation) would have decided over history. Every decision is recorded."
    )
    request = _form(dataset, symbol)
    if request is not None:
        submit_job("retrain replay", request)
    job_panel("retrain replay", on_done=_replayed)
    last = st.session_state.get(LAST)

    history = retrain.decision_history()
    if not history:
        st.info("No retraining decisions recorded yet.")
        return
    frame = history_frame(history)
    models = sorted(frame["model"].unique())
    current = last[0] if last is not None else f"replay:{dataset}/{symbol}"
    options = [ALL_MODELS, *models]
    chosen = st.selectbox(
        "Decisions of",
        options,
        index=options.index(current) if current in options else 0,
        key="retrain.model",
    )
    if chosen != ALL_MODELS:
        frame = frame[frame["model"] == chosen]
    counts = decision_counts(frame)
    repeated = int(frame.duplicated(["model", "as_of", "decision", "trigger", "reason"]).sum())
    if repeated:
        st.caption(
            f"{repeated} decisions repeat an earlier replay's (same model, date, decision and "
            "reason): every replay appends its decisions to the history."
        )
    cols = st.columns(len(DECISIONS) + 1)
    cols[0].metric("Decisions", f"{len(frame):,}")
    for col, kind in zip(cols[1:], DECISIONS, strict=True):
        col.metric(kind.replace("_", " ").capitalize(), f"{counts[kind]:,}")
    st.plotly_chart(
        timeline_figure(frame),
        width="stretch",  # type: ignore[arg-type]
        key="retrain.timeline",
    )
    shown = frame.assign(as_of=frame["as_of"].dt.date).drop(columns=["numbers"])
    st.dataframe(shown, width="stretch", hide_index=True, key="retrain.history")
    st.caption(
        "Newest first. A trigger compares champion and challenger out of sample on the same "
        "recent bars; replayed decisions are flagged `replay`."
    )
