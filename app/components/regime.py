"""Regime charts: price coloured by regime, stacked probabilities, entropy, transitions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.charts import render_figures
from app.components.numbers import pct, ratio
from core.regime import LABELS

COLORS = {"bull": "#2e7d32", "bear": "#c62828", "sideways": "#9e9e9e", "volatile": "#f9a825"}


def regime_figure(
    close: pd.Series, frame: pd.DataFrame, smoothed: pd.DataFrame | None
) -> go.Figure:
    """Price coloured by filtered regime, stacked filtered probabilities, entropy."""
    rows = 4 if smoothed is not None else 3
    titles = ["Price by filtered regime", "Filtered probabilities (causal, tradable)", "Entropy"]
    if smoothed is not None:
        titles.append("Smoothed probabilities (hindsight: uses later bars, not tradable)")
    heights = [0.4, 0.25, 0.12, 0.23][:rows]
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        row_heights=heights,
        vertical_spacing=0.05,
        subplot_titles=titles,
    )
    fig.add_trace(
        go.Scatter(
            x=close.index,
            y=close,
            mode="lines",
            name="close",
            line={"color": "#d0d7de", "width": 1},
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    for label in LABELS:
        mask = frame["label"] == label
        fig.add_trace(
            go.Scatter(
                x=close.index[mask],
                y=close[mask],
                mode="markers",
                name=label,
                marker={"color": COLORS[label], "size": 3},
                legendgroup=label,
            ),
            row=1,
            col=1,
        )
    for label in LABELS:
        fig.add_trace(
            go.Scatter(
                x=frame.index,
                y=frame[f"p_{label}"],
                stackgroup="filtered",
                name=label,
                line={"width": 0, "color": COLORS[label]},
                legendgroup=label,
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=frame.index,
            y=frame["entropy"],
            name="entropy",
            mode="lines",
            line={"color": "#6e40c9", "width": 1},
            showlegend=False,
        ),
        row=3,
        col=1,
    )
    if smoothed is not None:
        for label in LABELS:
            fig.add_trace(
                go.Scatter(
                    x=smoothed.index,
                    y=smoothed[label],
                    stackgroup="smoothed",
                    name=label,
                    line={"width": 0, "color": COLORS[label]},
                    legendgroup=label,
                    showlegend=False,
                ),
                row=4,
                col=1,
            )
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(range=[0, 1], row=2, col=1)
    fig.update_layout(
        height=320 + 180 * rows,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": 1.04, "itemsizing": "constant"},
        hovermode="x unified",
    )
    return fig


def transition_figure(transition: pd.DataFrame) -> go.Figure:
    """Annotated heatmap of the fitted transition matrix (rows: from, columns: to)."""
    fig = go.Figure(
        go.Heatmap(
            z=transition.to_numpy(),
            x=list(transition.columns),
            y=list(transition.index),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=transition.map(lambda v: f"{v:.3f}").to_numpy(),
            texttemplate="%{text}",
            showscale=False,
        )
    )
    fig.update_layout(
        height=340,
        xaxis_title="to",
        yaxis_title="from",
        yaxis_autorange="reversed",
        margin={"l": 10, "r": 10, "t": 20, "b": 10},
    )
    return fig


def render_current(label: str, confidence: float, when: pd.Timestamp, entropy: float) -> None:
    """The latest bar's regime and confidence."""
    render_figures(
        [
            ("Current regime", label),
            ("Confidence", pct(confidence)),
            ("Entropy (0-1)", ratio(entropy)),
        ]
    )
    st.caption(f"As of {when.date()}, from forward-filtered probabilities (data up to that bar).")
