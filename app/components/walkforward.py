"""Walk-forward components: the page's inputs (defaults from :class:`WalkForwardRequest`),
then cards, OOS equity, IS/OOS Sharpe per fold, fold table and the look-ahead verdict."""

from __future__ import annotations

import math
import typing
from typing import TYPE_CHECKING, Any

import annotated_types as at
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app.components.training import (
    BLUE,
    GREY,
    LOOKAHEAD_WORDS,
    MARGIN,
    number,
    percent,
    render_result_warnings,
)
from app.operations.walkforward import ModelKind, WalkForwardRequest

if TYPE_CHECKING:  # the service imports sklearn; a type is all this module needs
    from app.services.walkforward import WalkForwardOutcome

FIELDS = WalkForwardRequest.model_fields
LABELS = {
    "train_bars": "Train bars",
    "test_bars": "Test bars",
    "step_bars": "Step",
    "folds": "Folds",
    "features": "Features",
    "horizon": "Horizon",
    "threshold": "Threshold",
    "n_trials": "Trials per fold",
}
"""Page labels of the request fields, for :func:`app.components.forms.show_errors`."""


def _default(name: str) -> Any:
    return FIELDS[name].default


def _number(slot: DeltaGenerator, label: str, name: str, *, high: Any, **kwargs: Any) -> Any:
    """A number input for request field ``name``: its default and lower bound (and upper
    bound, if it has one) come from the model; ``high`` caps fields without one."""
    low: Any = next((m.ge for m in FIELDS[name].metadata if isinstance(m, at.Ge)), None)
    top: Any = next((m.le for m in FIELDS[name].metadata if isinstance(m, at.Le)), high)
    return slot.number_input(label, low, top, _default(name), key=f"wf.{name}", **kwargs)


def fold_inputs() -> tuple[dict[str, Any], dict[str, DeltaGenerator]]:
    """Mode, train, test and step bars and the number of folds; request fields and slots."""
    f1, f2, f3, f4, f5 = st.columns(5)
    mode = f1.radio(
        "Mode",
        ["rolling", "anchored"],
        horizontal=True,
        key="wf.mode",
        help="rolling: the last `train bars` before each test window; anchored: all bars "
        "from the start.",
    )
    train = _number(f2, "Train bars", "train_bars", high=20_000, step=50)
    test = _number(f3, "Test bars", "test_bars", high=5_000, step=10)
    step = f4.number_input(
        "Step (0 = test bars)", 0, 5_000, 0, 10, key="wf.step", help="Must be ≥ test bars."
    )
    folds = f5.number_input(
        "Folds (0 = all that fit)", 0, 100, 0, key="wf.folds", help="Keep the latest N folds."
    )
    values = {
        "mode": mode,
        "train_bars": int(train),
        "test_bars": int(test),
        "step_bars": int(step) or None,
        "folds": int(folds) or None,
    }
    slots = {"train_bars": f2.empty(), "test_bars": f3.empty(), "step_bars": f4.empty()}
    return values, slots | {"folds": f5.empty()}


def model_inputs(names: list[str], *, key: str) -> tuple[dict[str, Any], DeltaGenerator]:
    """Model kind, horizon, threshold, retuning and features; request fields and the
    features' error slot."""
    m1, m2, m3, m4, m5 = st.columns(5)
    kinds = list(typing.get_args(ModelKind))
    values: dict[str, Any] = {
        "model": m1.selectbox("Model", kinds, index=0, key="wf.model"),
        "horizon": int(_number(m2, "Horizon (bars)", "horizon", high=None)),
        "threshold": float(_number(m3, "Threshold", "threshold", high=0.99, step=0.01)),
        "retune": m4.toggle("Retune each fold (Optuna)", value=_default("retune"), key="wf.retune"),
        "n_trials": int(_number(m5, "Trials per fold", "n_trials", high=None)),
        "features": st.multiselect(
            f"Features ({len(names)} available)", names, default=names, key=key
        ),
    }
    slot = st.empty()
    values["allow_lookahead"] = st.checkbox(
        "Run even if the look-ahead check flags a feature (results are flagged)",
        value=_default("allow_lookahead"),
        key="wf.allow_lookahead",
    )
    return values, slot


def lookahead_inputs(strategies: list[str], symbol: str) -> tuple[str | None, bool, str]:
    """What to check: a strategy (default parameters) or all features, optionally with the
    leaky demo; returns ``(strategy, include_leaky_demo, subject)``."""
    target = st.radio(
        "Check",
        ["strategy", "features"],
        horizontal=True,
        key="wf.la.target",
        format_func={"strategy": "A strategy (default parameters)", "features": "All features"}.get,
    )
    if target == "strategy":
        strategy = st.selectbox("Strategy", strategies, key="wf.la.strategy")
        return strategy, False, f"strategy {strategy} on {symbol}"
    leaky = st.checkbox(
        "Include the deliberately leaky demo feature (next bar's return)", key="wf.la.leaky"
    )
    return None, leaky, f"all features on {symbol}" + (" + the leaky demo" if leaky else "")


def failure_hints(spec: dict[str, Any]) -> dict[str, list[str]]:
    """What names each Walk-forward form field in a failed job's error (its request
    ``spec``): the features for a look-ahead refusal, then the fold layout."""
    return {
        "features": [*LOOKAHEAD_WORDS, *(spec.get("features") or [])],
        "step_bars": ["step", "step_bars", "Step (bars)"],
        "train_bars": ["train bars", "train_bars", "training window"],
        "test_bars": ["test bars", "test_bars", "test window"],
        "folds": ["folds", "fold"],
    }


def render_run(outcome: WalkForwardOutcome, report: str) -> None:
    """A finished run: what it validated, its results, and its HTML ``report`` to download."""
    req = outcome.request
    what = (
        f"{req.strategy} (grid {', '.join(req.grid)})"
        if req.strategy
        else f"{req.model} h={req.horizon}"
    )
    st.subheader(f"Run #{outcome.run_id}: {what} on {req.symbol}, {req.mode}")
    render_walkforward(outcome)
    st.download_button(
        "Download report (HTML)",
        report.encode(),
        file_name=f"walkforward_{outcome.run_id}.html",
        mime="text/html",
        key="wf.download",
    )


def walkforward_cards(outcome: WalkForwardOutcome) -> list[tuple[str, str]]:
    """Headline numbers of a walk-forward run."""
    r = outcome.result
    return [
        ("IS Sharpe (mean of folds)", number(r.is_sharpe, 2)),
        ("OOS Sharpe (stitched)", number(r.oos_sharpe, 2)),
        ("Deflated Sharpe", number(r.deflated_sharpe, 3)),
        ("PBO", "n/a" if r.pbo is None else number(r.pbo, 3)),
        ("Trials", f"{int(r.trials):,}"),
        ("OOS total return", percent(r.oos_return)),
    ]


def oos_equity_figure(outcome: WalkForwardOutcome) -> go.Figure:
    """Stitched out-of-sample equity with each fold's test window shaded."""
    r = outcome.result
    fig = go.Figure(
        go.Scatter(x=r.oos_equity.index, y=r.oos_equity, name="OOS equity", line={"color": BLUE})
    )
    for i, row in enumerate(r.folds.itertuples(index=False)):
        fig.add_vrect(
            x0=row.test_start,
            x1=row.test_end,
            fillcolor=GREY if i % 2 else "#c9d1d9",
            opacity=0.15,
            line_width=0,
            annotation_text=f"fold {row.fold}",
            annotation_position="top left",
        )
    fig.update_layout(
        title="Stitched out-of-sample equity (shaded: test window of each fold)",
        yaxis_title="equity",
        height=420,
        margin=MARGIN,
        hovermode="x unified",
    )
    return fig


def fold_sharpe_figure(folds: pd.DataFrame) -> go.Figure:
    """In-sample against out-of-sample Sharpe, fold by fold."""
    labels = [f"fold {f}" for f in folds["fold"]]
    fig = go.Figure(
        [
            go.Bar(x=labels, y=folds["is_sharpe"], name="in-sample", marker_color=GREY),
            go.Bar(x=labels, y=folds["oos_sharpe"], name="out-of-sample", marker_color=BLUE),
        ]
    )
    fig.update_layout(
        title="Sharpe in and out of sample per fold (a large gap means overfitting)",
        barmode="group",
        yaxis_title="Sharpe (annualized)",
        height=360,
        margin=MARGIN,
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def folds_table(folds: pd.DataFrame) -> pd.DataFrame:
    """Folds for display: dates as dates, returns in percent, parameters as ``k=v`` text."""
    shown = folds.copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.date
    if "oos_return" in shown:
        shown["oos_return"] = shown["oos_return"] * 100
        shown = shown.rename(columns={"oos_return": "oos_return %"})
    if "params" in shown:
        shown["params"] = [
            ", ".join(f"{k}={v}" for k, v in p.items()) if isinstance(p, dict) else str(p)
            for p in shown["params"]
        ]
    return shown


def render_walkforward(outcome: WalkForwardOutcome) -> None:
    """Cards (DSR and PBO explained), fold table, OOS equity and the IS/OOS Sharpe chart."""
    from core.walkforward.report import DSR_EXPLAINED, PBO_EXPLAINED  # the package: sklearn

    r = outcome.result
    render_result_warnings(r.warnings)
    cards = walkforward_cards(outcome)
    columns = st.columns(len(cards))
    for column, (label, value) in zip(columns, cards, strict=True):
        with column:
            st.metric(label, value)
            if label == "Deflated Sharpe":
                st.caption(DSR_EXPLAINED)
            elif label == "PBO":
                st.caption(PBO_EXPLAINED)
    if r.deflated_sharpe is not None and math.isfinite(r.deflated_sharpe):
        verdict = "significant" if r.deflated_sharpe >= 0.95 else "not significant"
        line = (
            f"DSR {r.deflated_sharpe:.3f} over {r.trials} trials: {verdict} at 0.95. "
            f"Trials: {r.trial_counting}."
        )
        if r.pbo is not None and r.pbo >= 0.5:
            line += f" PBO {r.pbo:.2f} ≥ 0.5: the in-sample choice is no better than chance."
        (st.success if verdict == "significant" and (r.pbo or 0) < 0.5 else st.warning)(line)
    st.plotly_chart(oos_equity_figure(outcome), width="stretch", key="wf.oos_equity")
    st.plotly_chart(fold_sharpe_figure(r.folds), width="stretch", key="wf.fold_sharpe")
    st.markdown(f"**Folds** ({len(r.folds)})")
    st.dataframe(
        folds_table(r.folds),
        width="stretch",
        height=min(36 * (len(r.folds) + 1) + 3, 640),
        hide_index=True,
        key="wf.folds",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f")
            for c in ("is_metric", "is_sharpe", "oos_sharpe", "is_auc", "oos_auc")
        }
        | {"oos_return %": st.column_config.NumberColumn(format="%.2f")},
    )


def render_lookahead(report: Any) -> None:
    """Green when clean; red with each offending column and its first changed bar."""
    if not report.leaky:
        st.success(f"Clean: {report.message()}.")
        return
    st.error(report.message())
    st.markdown(
        "\n".join(
            f"- `{c}`: first changed bar {pd.Timestamp(report.first_offending_bars[c]).date()}"
            if c in report.first_offending_bars
            else f"- `{c}`: {report.details.get(c, 'flagged')}"
            for c in report.offending_columns
        )
    )
