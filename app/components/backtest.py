"""Backtest and sweep result components."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.widgets import render_metric_cards
from app.services.research import BacktestOutcome, PortfolioOutcome, SweepOutcome

PERCENT = {"total_return", "cagr", "volatility", "max_drawdown", "win_rate", "exposure"}
LABELS: dict[str, str] = {
    "total_return": "Total return",
    "cagr": "CAGR",
    "volatility": "Volatility (ann.)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "calmar": "Calmar",
    "max_drawdown": "Max drawdown",
    "max_drawdown_duration": "Max DD duration (bars)",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "n_trades": "Trades",
    "exposure": "Exposure",
    "turnover": "Turnover (ann.)",
}


def fmt(metric: str, value: float | None) -> str:
    """Format a metric for display."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if metric in PERCENT:
        return f"{value:.2%}"
    if metric in ("n_trades", "max_drawdown_duration"):
        return f"{int(value):,}"
    return f"{value:.2f}"


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


def render_backtest(outcome: BacktestOutcome) -> None:
    """Metric cards (with buy-and-hold deltas), equity, drawdown and trades."""
    m, b = outcome.metrics, outcome.benchmark_metrics
    keys = [k for k in LABELS if k in m]
    cards = []
    for key in keys:
        cards.append((LABELS[key], fmt(key, m.get(key))))
    render_metric_cards(cards, per_row=5)
    bench = ", ".join(
        f"{LABELS[k].lower()} {fmt(k, b.get(k))}"
        for k in ("total_return", "sharpe", "max_drawdown")
    )
    st.caption(
        f"Buy-and-hold on the same data and costs: {bench}. "
        f"Execution: {outcome.execution}. Fees {outcome.request.fees:.2%} and slippage "
        f"{outcome.request.slippage:.2%} per fill."
    )
    st.plotly_chart(equity_figure(outcome), width="stretch", key=f"equity.{outcome.run_id}")
    st.markdown(f"**Trades** ({len(outcome.trades)})")
    st.dataframe(outcome.trades, width="stretch", height=280, hide_index=True)


def heatmap_figure(outcome: SweepOutcome, metric: str) -> go.Figure | None:
    """Heatmap of ``metric`` over the first two swept params (None if fewer than two)."""
    if len(outcome.param_names) < 2:
        return None
    row, col = outcome.param_names[0], outcome.param_names[1]
    grid = outcome.table.pivot_table(index=row, columns=col, values=metric, aggfunc="max")
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=grid.columns.astype(str),
            y=grid.index.astype(str),
            colorscale="RdYlGn",
            colorbar={"title": metric},
            hoverongaps=False,
        )
    )
    fig.update_layout(
        height=520, xaxis_title=col, yaxis_title=row, margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )
    return fig


def render_sweep(outcome: SweepOutcome, metric: str, *, top_n: int = 15) -> None:
    """Headline, heatmap (or line for one param) and the top-N table."""
    render_metric_cards(
        [
            ("Combinations", f"{outcome.combinations:,}"),
            ("Seconds", f"{outcome.seconds:.3f}"),
            ("Combos / s", f"{outcome.combinations / max(outcome.seconds, 1e-9):,.0f}"),
            (f"Best {metric}", fmt(metric, float(outcome.top(1)[metric].iloc[0]))),
        ]
    )
    fig = heatmap_figure(outcome, metric)
    if fig is None:
        name = outcome.param_names[0]
        ordered = outcome.table.sort_values(name)
        fig = go.Figure(go.Scatter(x=ordered[name], y=ordered[metric], mode="lines+markers"))
        fig.update_layout(height=400, xaxis_title=name, yaxis_title=metric)
    st.plotly_chart(fig, width="stretch", key=f"sweep.{outcome.run_id}.{metric}")
    asc = metric in ("volatility", "max_drawdown_duration", "turnover")
    top = outcome.table.sort_values(metric, ascending=asc, na_position="last").head(top_n)
    st.markdown(f"**Top {top_n} by {metric}**")
    st.dataframe(top, width="stretch", hide_index=True)
    st.caption(f"Execution: {outcome.execution}.")


def runs_table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Saved runs as a display table."""
    frame = pd.DataFrame(rows)
    return frame.replace({np.nan: None})


def render_portfolio(outcome: PortfolioOutcome) -> None:
    """Book metrics, equity with drawdown, and realized weights over time."""
    m = outcome.metrics
    keys = [k for k in LABELS if k in m]
    render_metric_cards([(LABELS[k], fmt(k, m.get(k))) for k in keys], per_row=5)
    st.caption(f"Run #{outcome.run_id}. Shared cash across assets. Execution: {outcome.execution}.")
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
    st.plotly_chart(fig, width="stretch", key=f"portfolio.{outcome.run_id}")
