"""Training components: evaluation cards and figures from a typed outcome, then draws.

The colours, number formats and the red warning boxes are shared with the walk-forward
components."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots
from streamlit.delta_generator import DeltaGenerator

from app.components.backtest import fmt
from app.components.widgets import render_metric_cards
from core.features import REGISTRY

if TYPE_CHECKING:  # the service imports sklearn; a type is all this module needs
    from app.services.jobs import JobView
    from app.services.training import TrainOutcome

BLUE, GREY, RED, GREEN = "#1f6feb", "#8b949e", "#ef5350", "#26a69a"
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
SIGNAL_LABELS = {
    "total_return": "Signal total return",
    "cagr": "Signal CAGR",
    "sharpe": "Signal Sharpe",
    "max_drawdown": "Signal max drawdown",
    "n_trades": "Signal trades",
    "exposure": "Signal exposure",
}


def number(value: Any, digits: int = 4) -> str:
    """A float with ``digits`` decimals, or ``n/a`` for None/NaN/inf."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.{digits}f}"


def percent(value: Any) -> str:
    """A fraction as a percentage, or ``n/a``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{float(value):.2%}"


def param_text(value: Any) -> str:
    """A hyperparameter as read: integers with separators, floats to 6 significant digits
    (``C=0.476427``, not ``0.47642741396516547``), anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if value is None else str(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def evaluation_cards(evaluation: dict[str, Any]) -> list[tuple[str, str]]:
    """Out-of-sample classification metrics as (label, formatted value)."""
    return [
        ("ROC-AUC", number(evaluation.get("roc_auc"))),
        ("PR-AUC", number(evaluation.get("pr_auc"))),
        ("Log loss", number(evaluation.get("log_loss"))),
        ("Brier", number(evaluation.get("brier"))),
        ("Accuracy", percent(evaluation.get("accuracy"))),
        ("Base rate (up)", percent(evaluation.get("base_rate"))),
    ]


def signal_cards(signal_metrics: dict[str, float]) -> list[tuple[str, str]]:
    """Backtest metrics of the model's signal, labelled ``Signal ...``."""
    return [
        (label, fmt(key, signal_metrics.get(key)))
        for key, label in SIGNAL_LABELS.items()
        if key in signal_metrics
    ]


def _diagonal(fig: go.Figure) -> None:
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"color": GREY, "dash": "dash"}
        )
    )


def roc_figure(evaluation: dict[str, Any]) -> go.Figure:
    """ROC curve against the chance diagonal."""
    roc = evaluation.get("roc") or {}
    fig = go.Figure(
        go.Scatter(
            x=roc.get("fpr", []),
            y=roc.get("tpr", []),
            mode="lines",
            name="model",
            line={"color": BLUE},
        )
    )
    _diagonal(fig)
    fig.update_layout(
        title=f"ROC curve (AUC {number(evaluation.get('roc_auc'), 3)})",
        xaxis_title="false positive rate",
        yaxis_title="true positive rate",
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def pr_figure(evaluation: dict[str, Any]) -> go.Figure:
    """Precision-recall curve with the base rate (a no-skill classifier) as a line."""
    pr = evaluation.get("pr") or {}
    fig = go.Figure(
        go.Scatter(
            x=pr.get("recall", []),
            y=pr.get("precision", []),
            mode="lines",
            name="model",
            line={"color": BLUE},
        )
    )
    base = evaluation.get("base_rate")
    if base is not None:
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[base, base],
                mode="lines",
                name=f"base rate {base:.1%}",
                line={"color": GREY, "dash": "dash"},
            )
        )
    fig.update_layout(
        title=f"Precision-recall (AP {number(evaluation.get('pr_auc'), 3)})",
        xaxis_title="recall",
        yaxis_title="precision",
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def calibration_figure(evaluation: dict[str, Any]) -> go.Figure:
    """Reliability diagram: mean predicted probability against observed frequency."""
    cal = evaluation.get("calibration") or {}
    fig = go.Figure(
        go.Scatter(
            x=cal.get("prob_pred", []),
            y=cal.get("prob_true", []),
            mode="lines+markers",
            name="model",
            line={"color": BLUE},
        )
    )
    _diagonal(fig)
    fig.update_layout(
        title=f"Calibration (Brier {number(evaluation.get('brier'), 3)})",
        xaxis_title="mean predicted probability of an up move",
        yaxis_title="observed frequency",
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def confusion_figure(evaluation: dict[str, Any]) -> go.Figure:
    """Heatmap of ``[[tn, fp], [fn, tp]]`` at the threshold, annotated with counts and shares."""
    matrix = np.asarray(evaluation.get("confusion_matrix") or [[0, 0], [0, 0]], dtype=np.int64)
    total = max(int(matrix.sum()), 1)
    text = [[f"{v:,}<br>{v / total:.1%}" for v in row] for row in matrix.tolist()]
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=["predicted down", "predicted up"],
            y=["actual down", "actual up"],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
        )
    )
    fig.update_layout(
        title=f"Confusion matrix at threshold {evaluation.get('threshold', 0.5):.2f}",
        height=360,
        margin=MARGIN,
        yaxis={"autorange": "reversed"},
    )
    return fig


def importance_figure(importance: pd.DataFrame, *, top_n: int = 20) -> go.Figure:
    """Permutation importance (mean drop in ROC-AUC, with its std), and SHAP when present."""
    perm_col = "importance_mean" if "importance_mean" in importance else importance.columns[0]
    top = importance.sort_values(perm_col, ascending=False).head(top_n).iloc[::-1]
    names = [str(i) for i in top.index]
    has_shap = "shap_mean_abs" in top.columns
    fig = make_subplots(
        rows=1,
        cols=2 if has_shap else 1,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=(
            ["Permutation (drop in ROC-AUC)", "SHAP mean |contribution|"]
            if has_shap
            else ["Permutation (drop in ROC-AUC)"]
        ),
    )
    error = (
        {"type": "data", "array": top["importance_std"].to_numpy(), "visible": True}
        if "importance_std" in top
        else None
    )
    fig.add_trace(
        go.Bar(
            x=top[perm_col].to_numpy(),
            y=names,
            orientation="h",
            name="permutation",
            marker_color=BLUE,
            error_x=error,
        ),
        row=1,
        col=1,
    )
    if has_shap:
        fig.add_trace(
            go.Bar(
                x=top["shap_mean_abs"].to_numpy(),
                y=names,
                orientation="h",
                name="SHAP",
                marker_color=GREEN,
            ),
            row=1,
            col=2,
        )
    fig.update_layout(
        height=max(320, 22 * len(names) + 80), margin=MARGIN, showlegend=False, bargap=0.25
    )
    return fig


def signal_equity_figure(equity: pd.Series, benchmark: pd.Series) -> go.Figure:
    """The signal's equity on the test period against buy-and-hold, with its drawdown."""
    drawdown = equity / equity.cummax() - 1
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(x=equity.index, y=equity, name="model signal", line={"color": BLUE}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=benchmark.index, y=benchmark, name="buy-and-hold", line={"color": GREY}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=drawdown.index,
            y=drawdown,
            name="signal drawdown",
            fill="tozeroy",
            line={"color": RED},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    fig.update_layout(
        height=480,
        margin=MARGIN,
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.08},
    )
    return fig


def _total_return(series: pd.Series) -> float:
    return float(series.iloc[-1] / series.iloc[0] - 1) if len(series) > 1 else float("nan")


def render_training(outcome: TrainOutcome) -> None:
    """Everything a training run produced: cards, curves, importance and the signal backtest."""
    req, ev = outcome.request, outcome.evaluation
    render_result_warnings(outcome.warnings)
    if outcome.lookahead is not None:
        st.caption(f"Look-ahead check of the features: {outcome.lookahead['message']}.")
    (tr0, tr1), (te0, te1) = outcome.train_range, outcome.test_range
    st.markdown(
        f"**Train** {tr0} → {tr1} · **Test (out of sample)** {te0} → {te1} · "
        f"{ev.get('n', 0):,} test rows · embargo {req.horizon} bars"
    )
    render_metric_cards(evaluation_cards(ev))
    if not (ev.get("roc") or {}).get("fpr"):
        st.warning(
            "The test period holds only one class, so ROC-AUC, PR-AUC and the curves are "
            "undefined. Use a longer test period or another label."
        )
    c1, c2 = st.columns(2)
    c1.plotly_chart(roc_figure(ev), width="stretch", key="training.roc")
    c2.plotly_chart(pr_figure(ev), width="stretch", key="training.pr")
    c3, c4 = st.columns(2)
    c3.plotly_chart(calibration_figure(ev), width="stretch", key="training.calibration")
    c4.plotly_chart(confusion_figure(ev), width="stretch", key="training.confusion")

    st.markdown(
        "**Feature importance** (on the test period"
        + ("; SHAP from the booster" if "shap_mean_abs" in outcome.importance else "")
        + ")"
    )
    st.plotly_chart(
        importance_figure(outcome.importance), width="stretch", key="training.importance"
    )
    with st.expander(f"All {len(outcome.importance)} features"):
        st.dataframe(outcome.importance, width="stretch")

    st.markdown("**Trading the signal** (test period only, same costs for both)")
    render_metric_cards(signal_cards(outcome.signal_metrics))
    side = "long/short" if req.allow_short else "long only"
    st.caption(
        f"Position = (p − {req.threshold:.2f}) / (1 − {req.threshold:.2f}) when the "
        f"up-probability p exceeds the threshold ({side}). Buy-and-hold total return on the "
        f"same period: {percent(_total_return(outcome.benchmark))}. Fees {req.fees:.2%} and "
        f"slippage {req.slippage:.2%} per fill."
    )
    st.plotly_chart(
        signal_equity_figure(outcome.equity, outcome.benchmark),
        width="stretch",
        key="training.signal_equity",
    )
    params = ", ".join(f"{k}={param_text(v)}" for k, v in outcome.params.items()) or "defaults"
    st.caption(
        f"Run #{outcome.run_id} · {req.kind} · label {req.label}, horizon {req.horizon} · "
        f"{len(outcome.features)} features · trials {outcome.trials:,} · seed {req.seed} · "
        f"params: {params} · data sha256 {outcome.data_hash[:12]}…"
    )


def render_feature_catalogue(names: Sequence[str]) -> None:
    """An expander listing each feature's inputs, lookback and description."""
    with st.expander("Feature catalogue"):
        st.dataframe(
            [
                {
                    "feature": n,
                    "inputs": ", ".join(REGISTRY[n].inputs),
                    "lookback": REGISTRY[n].lookback,
                    "description": REGISTRY[n].description,
                }
                for n in names
            ],
            hide_index=True,
            width="stretch",
        )


def registration_form(runs: Sequence[Any], current: int | None) -> tuple[int, str] | None:
    """The "Register a model" form over saved training runs (``current`` preselected);
    returns ``(run id, stripped name)`` when submitted."""
    ids = [r.id for r in runs]
    titles = {
        r.id: f"#{r.id} {r.title} · AUC {r.metrics.get('roc_auc') or float('nan'):.4f} · "
        f"{r.created_at:%Y-%m-%d %H:%M}"
        for r in runs
    }
    with st.form("training.register"):
        r1, r2 = st.columns([2, 1])
        run_id = r1.selectbox(
            "Training run",
            ids,
            index=ids.index(current) if current in ids else 0,
            format_func=lambda run_id: titles[run_id],
            key="training.register.run",
        )
        name = r2.text_input(
            "Model name",
            key="training.register.name",
            placeholder="e.g. sp500-xgb-h5",
            help="1-64 letters, digits, '-' or '_'. Registering an existing name adds a version.",
        )
        submitted = st.form_submit_button("Register model")
    return (int(run_id), name.strip()) if submitted and run_id is not None else None


def render_registered(row: dict[str, Any] | None) -> None:
    """The confirmation of a registration (``VersionRow.as_dict()``), if there is one."""
    if row:
        st.success(
            f"Registered **{row['name']} v{row['version']}** (version id {row['id']}) as a "
            f"{row['stage']} from run #{row['metrics'].get('run_id')}. Promote it on the "
            "Model registry page."
        )


LOOKAHEAD_WORDS = ("look-ahead", "future bars")
"""Words of the look-ahead refusal (:func:`core.ml.lookahead`), which is about the features."""


def _names(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE) is not None


def failed_field(job: JobView | None, hints: Mapping[str, Sequence[str]]) -> str | None:
    """The form field a failed job's error is about: the first of ``hints`` (field ->
    the words that name it, e.g. the fixed hyperparameters' keys) whose word the error
    names; None when the job did not fail or its error names none of them."""
    if job is None or job.status != "failed" or not job.error:
        return None
    return next(
        (field for field, words in hints.items() if any(_names(job.error, w) for w in words)),
        None,
    )


def training_failure_hints(spec: Mapping[str, Any]) -> dict[str, list[str]]:
    """What names each Training form field in a failed job's error (its request ``spec``)."""
    return {
        "features": [*LOOKAHEAD_WORDS, *(spec.get("features") or [])],
        "params": [str(k) for k in (spec.get("params") or {})],
        "n_trials": ["trials", "n_trials"],
        "horizon": ["horizon"],
        "test_fraction": ["test fraction", "test period"],
        "threshold": ["threshold"],
    }


def show_failure(slot: DeltaGenerator, job: JobView) -> None:
    """A failed job's error, open, beside the field it is about."""
    slot.error(f"{job.error} Correct this field and run again.", icon=":material/error:")


def render_result_warnings(warnings: Sequence[str]) -> None:
    """Each implausible result or overridden look-ahead check as a red box, first."""
    for warning in warnings:
        st.error(f"WARNING: {warning}", icon=":material/warning:")
