"""Sweep components: the grid form and the result view (heatmap and ranked table)."""

from __future__ import annotations

import typing
from typing import Any

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
    top = rank(outcome.table, metric, top_n)
    st.markdown(f"**Top {top_n} by {metric}**")
    st.dataframe(top, width="stretch", hide_index=True)
    st.caption(f"Execution: {outcome.execution}.")
