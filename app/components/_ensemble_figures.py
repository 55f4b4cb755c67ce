"""Figures of the ensemble result: per-regime heatmap, growth, weights and regret."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.components.regime import COLORS

AGENT_COLORS = ["#1f6feb", "#d2691e", "#2e7d32", "#8250df", "#cf222e", "#57606a"]
SERIES_STYLE = {
    "ensemble": {"color": "#1f6feb", "width": 2.2},
    "best_single": {"color": "#2e7d32", "width": 1.5},
    "equal_weight": {"color": "#8b949e", "width": 1.5, "dash": "dash"},
}


def regime_heatmap(by_regime: pd.DataFrame) -> go.Figure:
    """Annotated heatmap of OOS Sharpe, agents (rows) x filtered regimes (columns)."""
    grid = by_regime.pivot(index="agent", columns="regime", values="sharpe")
    bars = by_regime.groupby("regime")["bars"].first()
    grid = grid.reindex(index=list(dict.fromkeys(by_regime["agent"])))
    x = [f"{r} ({int(bars[r]):,} bars)" for r in grid.columns]
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
