"""Figures of the backtest components: equity against buy-and-hold, and a book's equity
with its realized weights."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.operations.backtest import BacktestOutcome, PortfolioOutcome


def equity_figure(outcome: BacktestOutcome) -> go.Figure:
    """Equity against buy-and-hold, with drawdown below."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(
            x=outcome.equity.index, y=outcome.equity, name="strategy", line={"color": "#1f6feb"}
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=outcome.benchmark.index,
            y=outcome.benchmark,
            name="buy-and-hold",
            line={"color": "#8b949e"},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=outcome.drawdown.index,
            y=outcome.drawdown,
            name="drawdown",
            fill="tozeroy",
            line={"color": "#ef5350"},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="equity", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    fig.update_layout(
        height=560,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.06},
    )
    return fig


def portfolio_figure(outcome: PortfolioOutcome) -> go.Figure:
    """The book's equity above its realized weights (stacked)."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.05,
        subplot_titles=["Equity", "Realized weights"],
    )
    fig.add_trace(go.Scatter(x=outcome.equity.index, y=outcome.equity, name="equity"), row=1, col=1)
    for column in outcome.weights.columns:
        fig.add_trace(
            go.Scatter(
                x=outcome.weights.index, y=outcome.weights[column], name=str(column), stackgroup="w"
            ),
            row=2,
            col=1,
        )
    fig.update_layout(
        height=620, margin={"l": 10, "r": 10, "t": 40, "b": 10}, hovermode="x unified"
    )
    return fig
