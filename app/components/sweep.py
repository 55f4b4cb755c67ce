"""Sweep components: the grid form and the result view (heatmap and ranked table)."""

from __future__ import annotations

import typing
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.backtest import fmt
from app.components.widgets import render_metric_cards
from app.operations.sweep import SweepOutcome
from core.sweep import rank


def fixed_choice_inputs(model: type[Any], *, key: str) -> dict[str, Any]:
    """A select box per choice parameter of the strategy (e.g. ma_crossover's entry rule,
    "state" or "cross"), held fixed over the grid; returns the sweep's ``fixed`` values."""
    fixed: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if typing.get_origin(field.annotation) is not typing.Literal:
            continue
        choices = list(typing.get_args(field.annotation))
        fixed[name] = st.selectbox(
            name.replace("_", " "),
            choices,
            index=choices.index(field.default),
            key=f"{key}.{name}",
            help=field.description,
        )
    return fixed


def heatmap_figure(outcome: SweepOutcome, metric: str) -> go.Figure | None:
    """Heatmap of ``metric``: the max over the first two swept params (a universe sweep:
    symbol x first param), None for a single-param sweep of one symbol. The sweep's own
    metric uses the heatmap stored with the run; another metric pivots the full table."""
    universe = outcome.universe is not None
    if len(outcome.param_names) < (1 if universe else 2):
        return None
    if outcome.heatmap is not None and metric == outcome.metric:
        grid = outcome.heatmap
        row, col = str(grid.index.name), str(grid.columns.name)
    else:
        row = "symbol" if universe else outcome.param_names[0]
        col = outcome.param_names[0] if universe else outcome.param_names[1]
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
        height=max(320, min(720, 60 + 26 * len(grid))) if universe else 520,
        xaxis_title=col,
        yaxis={"title": row, "autorange": "reversed" if universe else True},  # symbols: top down
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


#: Columns of the symbol x metric heatmap of a universe sweep's best rows.
UNIVERSE_METRICS = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown", "calmar")


def symbol_metric_figure(best: pd.DataFrame) -> go.Figure:
    """Each symbol's best combination (rows) by metric (columns): colour is the metric's
    rank across symbols (green best; drawdowns rank by closeness to zero), text the value."""
    metrics = [m for m in UNIVERSE_METRICS if m in best]
    values = best[metrics].astype(float)
    colour = values.rank(pct=True)  # higher is better for each of these (drawdown < 0)
    fig = go.Figure(
        go.Heatmap(
            z=colour.to_numpy(),
            x=metrics,
            y=best["symbol"].astype(str),
            text=[
                [fmt(m, v) for m, v in zip(metrics, row, strict=True)] for row in values.to_numpy()
            ],
            texttemplate="%{text}",
            colorscale="RdYlGn",
            showscale=False,
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(260, min(720, 60 + 30 * len(best))),
        yaxis={"autorange": "reversed"},  # the table's order, top down
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


def render_universe(outcome: SweepOutcome) -> None:
    """A universe sweep's best combination per symbol and the deflated Sharpe over all trials."""
    universe = outcome.universe
    if universe is None:
        return
    dsr = universe.dsr
    st.markdown(
        f"**Best combination per symbol** ({len(universe.symbols)} symbols). Deflated Sharpe "
        f"of the overall best: {dsr.get('dsr', float('nan')):.3f} over "
        f"{int(dsr.get('trials', 0)):,} trials (combinations x symbols)."
    )
    best = universe.best_by_symbol
    st.plotly_chart(
        symbol_metric_figure(best), width="stretch", key=f"sweep.{outcome.run_id}.symbols"
    )
    st.dataframe(best, width="stretch", hide_index=True, key=f"sweep.{outcome.run_id}.best")
    if universe.skipped:
        st.warning("Skipped: " + "; ".join(f"{s}: {why}" for s, why in universe.skipped.items()))


def render_sweep(outcome: SweepOutcome, metric: str, *, top_n: int = 15) -> None:
    """Headline, heatmap (or line for one param), a universe's best per symbol, top-N."""
    top = outcome.top(top_n) if metric == outcome.metric else rank(outcome.table, metric, top_n)
    render_metric_cards(
        [
            ("Combinations", f"{outcome.combinations:,}"),
            ("Seconds", f"{outcome.seconds:.3f}"),
            ("Combos / s", f"{outcome.combinations / max(outcome.seconds, 1e-9):,.0f}"),
            (f"Best {metric}", fmt(metric, float(top[metric].iloc[0]))),
        ]
    )
    fig = heatmap_figure(outcome, metric)
    if fig is None:
        name = outcome.param_names[0]
        ordered = outcome.table.sort_values(name)
        fig = go.Figure(go.Scatter(x=ordered[name], y=ordered[metric], mode="lines+markers"))
        fig.update_layout(height=400, xaxis_title=name, yaxis_title=metric)
    st.plotly_chart(fig, width="stretch", key=f"sweep.{outcome.run_id}.{metric}")
    render_universe(outcome)
    st.markdown(f"**Top {top_n} by {metric}**")
    st.dataframe(top, width="stretch", hide_index=True)
    st.caption(f"Execution: {outcome.execution}.")
