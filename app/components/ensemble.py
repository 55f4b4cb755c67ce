"""Ensemble components: agents, per-regime performance, selector state, curves, switches."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import annotated_types as at
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.regimes import COLORS
from app.components.widgets import render_metric_cards
from app.operations.ensemble import EnsembleOutcome, EnsembleRequest

SWITCH_TABLE_CAP = 500  # most recent switches shown (the full log can be downloaded)
AGENT_COLORS = ["#1f6feb", "#d2691e", "#2e7d32", "#8250df", "#cf222e", "#57606a"]
SERIES_STYLE = {
    "ensemble": {"color": "#1f6feb", "width": 2.2},
    "best_single": {"color": "#2e7d32", "width": 1.5},
    "equal_weight": {"color": "#8b949e", "width": 1.5, "dash": "dash"},
}


def request_bounds(name: str) -> tuple[Any, Any]:
    """``(low, high)`` of an :class:`EnsembleRequest` field, for its page input.

    >>> request_bounds("train_fraction")
    (0.2, 0.8)
    """
    meta = EnsembleRequest.model_fields[name].metadata
    low = next(m.ge for m in meta if isinstance(m, at.Ge))
    high = next(m.le for m in meta if isinstance(m, at.Le))
    return low, high


def progress_bar() -> Callable[[float, str], None]:
    """A progress bar here, and the ``progress(fraction, message)`` callback that moves it."""
    bar = st.progress(0.0)

    def report(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction)), text=message)

    return report


def _num(value: float | None, spec: str) -> str:
    """``format(value, spec)``, or ``n/a`` for None and non-finite values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return format(value, spec)


def metric_cards(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Headline cards from :meth:`EnsembleOutcome.payload` (label, formatted value)."""
    return [
        ("Ensemble Sharpe", _num(payload["ensemble_sharpe"], ".2f")),
        (
            f"Best single Sharpe ({payload['best_agent']})",
            _num(payload["best_single_sharpe"], ".2f"),
        ),
        ("Equal-weight Sharpe", _num(payload["equal_weight_sharpe"], ".2f")),
        ("Regret", _num(payload["regret"], ".2%")),
        ("Switches", f"{payload['switches']:,}"),
        ("Turnover (per bar)", _num(payload["turnover"], ".2%")),
    ]


def agents_table(outcome: EnsembleOutcome) -> pd.DataFrame:
    """One row per tuned agent: profile, strategy, parameters, in-sample numbers."""
    rows = []
    for agent in outcome.result.agents:
        params = ", ".join(f"{k}={v}" for k, v in agent.params.items())
        rows.append(
            {
                "agent": agent.name,
                "strategy": agent.strategy,
                "params": params,
                "objective (in sample)": agent.objective,
                "IS objective": agent.in_sample.get("objective"),
                "IS Sharpe": agent.in_sample.get("sharpe"),
                "IS total return": agent.in_sample.get("total_return"),
                "IS max drawdown": agent.in_sample.get("max_drawdown"),
                "combinations tried": agent.in_sample.get("combinations"),
            }
        )
    return pd.DataFrame(rows)


def regime_heatmap(by_regime: pd.DataFrame) -> go.Figure:
    """Annotated heatmap of OOS Sharpe, agents (rows) x filtered regimes (columns)."""
    grid = by_regime.pivot(index="agent", columns="regime", values="sharpe")
    bars = by_regime.groupby("regime")["bars"].first()
    grid = grid.reindex(index=list(dict.fromkeys(by_regime["agent"])))
    x = [f"{r} ({int(bars[r])} bars)" for r in grid.columns]
    text = grid.map(lambda v: "n/a" if pd.isna(v) else f"{v:.2f}").to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=x,
            y=list(grid.index),
            colorscale="RdYlGn",
            zmid=0,
            text=text,
            texttemplate="%{text}",
            colorbar={"title": "Sharpe"},
            hoverongaps=False,
        )
    )
    for tick, regime in zip(x, grid.columns, strict=True):
        fig.add_annotation(
            x=tick,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text="■",
            showarrow=False,
            font={"color": COLORS.get(str(regime), "#000000"), "size": 14},
        )
    fig.update_layout(
        height=120 + 55 * len(grid.index),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="filtered regime",
        yaxis_autorange="reversed",
    )
    return fig


def cumulative_figure(returns: pd.DataFrame) -> go.Figure:
    """Growth of 1 for the ensemble, best single agent and equal weights (agents hidden)."""
    growth = (1.0 + returns).cumprod()
    fig = go.Figure()
    names = {
        "ensemble": "ensemble",
        "best_single": "best single",
        "equal_weight": "equal weight",
    }
    for column, label in names.items():
        fig.add_trace(
            go.Scatter(x=growth.index, y=growth[column], name=label, line=SERIES_STYLE[column])
        )
    agents = [c for c in returns.columns if c not in names]
    for i, column in enumerate(agents):
        fig.add_trace(
            go.Scatter(
                x=growth.index,
                y=growth[column],
                name=f"agent: {column}",
                line={"color": AGENT_COLORS[i % len(AGENT_COLORS)], "width": 1, "dash": "dot"},
                visible="legendonly",
            )
        )
    fig.update_layout(
        height=420,
        yaxis_title="growth of 1 (OOS)",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.08},
    )
    return fig


def weights_figure(weights: pd.DataFrame, regimes: pd.Series) -> go.Figure:
    """Stacked selector weights per OOS bar, with the filtered regime strip below."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.82, 0.18],
        vertical_spacing=0.04,
    )
    for i, column in enumerate(weights.columns):
        fig.add_trace(
            go.Scatter(
                x=weights.index,
                y=weights[column],
                name=str(column),
                stackgroup="weights",
                line={"width": 0, "color": AGENT_COLORS[i % len(AGENT_COLORS)]},
            ),
            row=1,
            col=1,
        )
    labels = regimes.reindex(weights.index)
    for label, color in COLORS.items():
        mask = labels == label
        if not mask.any():
            continue
        fig.add_trace(
            go.Scatter(
                x=labels.index[mask],
                y=[0] * int(mask.sum()),
                mode="markers",
                marker={"color": color, "size": 6, "symbol": "square"},
                name=f"regime: {label}",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(range=[0, 1], tickformat=".0%", title_text="weight", row=1, col=1)
    fig.update_yaxes(showticklabels=False, title_text="regime", row=2, col=1)
    fig.update_layout(
        height=480,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
    )
    return fig


def regret_figure(regret: pd.Series, reference: str) -> go.Figure:
    """Cumulative regret against the best agent in hindsight (by total return)."""
    fig = go.Figure(
        go.Scatter(
            x=regret.index,
            y=regret,
            name="regret",
            fill="tozeroy",
            line={"color": "#cf222e", "width": 1.2},
        )
    )
    fig.update_layout(
        height=300,
        yaxis_title=f"cumulative {reference} - ensemble",
        yaxis_tickformat=".0%",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="x unified",
    )
    return fig


def regret_reference(returns: pd.DataFrame, agent_names: list[str]) -> str:
    """The agent the regret curve is measured against (highest OOS total return)."""
    return str(returns[agent_names].sum().idxmax())


def switch_table(switch_log: list[dict[str, Any]], cap: int = SWITCH_TABLE_CAP) -> pd.DataFrame:
    """Switch log as a table, newest first, at most ``cap`` rows."""
    frame = pd.DataFrame(switch_log, columns=["date", "from", "to", "explanation"])
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame.iloc[::-1].head(cap).reset_index(drop=True)


def render_current_choice(outcome: EnsembleOutcome) -> None:
    """Weights in force on the last OOS bar and the explanation behind them."""
    result = outcome.result
    last = result.weights.iloc[-1]
    when = result.weights.index[-1]
    top = str(last.idxmax())
    c1, c2 = st.columns([1, 2])
    with c1:
        table = last.rename("weight").to_frame()
        table.index.name = "agent"
        st.dataframe(table.style.format({"weight": "{:.1%}"}), width="stretch")
    with c2:
        regime = outcome.regimes.iloc[-1] if len(outcome.regimes) else "n/a"
        st.metric("Top-weighted agent", top)
        st.info(
            f"**{pd.Timestamp(when).date()}** (filtered regime: {regime}): "
            f"{result.explanations.iloc[-1]}"
        )
    st.caption(
        "Weights applied to the last bar of the data, decided at the previous close; the "
        "explanation is the selector's own account of that decision."
    )


def render_ensemble(outcome: EnsembleOutcome) -> None:
    """The whole result: cards, agents, per-regime performance, curves and switches."""
    payload = outcome.payload()
    result = outcome.result
    render_metric_cards(metric_cards(payload), per_row=3)
    st.caption(
        f"Out of sample: {payload['oos_bars']:,} bars after {payload['train_bars']:,} training "
        f"bars. Best single = best agent in hindsight by OOS Sharpe. "
        f"Execution: {payload['execution']}."
    )
    st.markdown("**Agents** (tuned on the training bars only)")
    st.dataframe(
        agents_table(outcome).style.format(
            {
                "IS objective": "{:.3f}",
                "IS Sharpe": "{:.2f}",
                "IS total return": "{:.1%}",
                "IS max drawdown": "{:.1%}",
                "combinations tried": "{:.0f}",
            },
            na_rep="n/a",
        ),
        width="stretch",
        hide_index=True,
    )
    st.markdown("**Selector's current choice**")
    render_current_choice(outcome)

    st.markdown("**Agent performance by filtered regime** (OOS Sharpe)")
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(
            regime_heatmap(outcome.by_regime),
            width="stretch",  # type: ignore[arg-type]
            key="ensemble.chart.regimes",
        )
    with right:
        st.dataframe(
            outcome.by_regime.style.format(
                {"ann_return": "{:.1%}", "sharpe": "{:.2f}"}, na_rep="n/a"
            ),
            width="stretch",
            hide_index=True,
        )
    st.caption(
        "Regime of each OOS bar = argmax of forward-filtered HMM probabilities (model fitted "
        "on the training bars); ann. return = mean x 252, Sharpe = mean / std x sqrt(252)."
    )

    st.markdown("**Cumulative returns** (agents in the legend, hidden by default)")
    st.plotly_chart(
        cumulative_figure(result.returns),
        width="stretch",  # type: ignore[arg-type]
        key="ensemble.chart.cumulative",
    )
    st.markdown("**Weights over time**")
    st.plotly_chart(
        weights_figure(result.weights, outcome.regimes),
        width="stretch",  # type: ignore[arg-type]
        key="ensemble.chart.weights",
    )
    names = [a.name for a in result.agents] or list(result.weights.columns)
    reference = regret_reference(result.returns, names)
    st.markdown(f"**Cumulative regret** against {reference} (best agent by OOS total return)")
    st.plotly_chart(
        regret_figure(result.regret_curve, reference),
        width="stretch",  # type: ignore[arg-type]
        key="ensemble.chart.regret",
    )

    log = result.switch_log
    shown = switch_table(log)
    capped = f", newest {len(shown)} shown" if len(shown) < len(log) else ""
    st.markdown(f"**Switches of the top-weighted agent** ({len(log)}{capped})")
    st.dataframe(shown, width="stretch", hide_index=True, key="ensemble.switches")
    st.download_button(
        "Download switch log (CSV)",
        switch_table(log, cap=len(log)).to_csv(index=False).encode(),
        file_name=f"ensemble_switches_{outcome.run_id}.csv",
        mime="text/csv",
        key="ensemble.switches.download",
    )
