"""A/B comparison display: the verdict and its deciding rule, then primary and secondary tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.widgets import render_metric_cards

if TYPE_CHECKING:  # core.abtest imports scipy and statsmodels; a type is all this needs
    from core.abtest import ComparisonResult

_COLUMNS = (
    "pair",
    "test",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "favours",
    "note",
)


def render_verdict(result: ComparisonResult) -> None:
    """The verdict box, the line naming the deciding test, and summary cards."""
    box = st.success if " better than " in result.verdict else st.info
    box(f"**Verdict:** {result.verdict}")
    st.markdown(f"**Decided by:** {result.primary_test}: {result.decision_rule}.")
    pairs = len(result.primary_rows())
    render_metric_cards(
        [
            ("Common days", f"{result.n_obs:,}"),
            ("Arms", str(len(result.names))),
            ("Pairs", str(pairs)),
            (
                "Min sample size (days)",
                f"{result.min_sample_size:,}" if result.min_sample_size else "n/a",
            ),
        ]
    )


def render_equity(equity: pd.DataFrame) -> None:
    """Growth of 1 for each arm."""
    fig = go.Figure()
    for column in equity.columns:
        fig.add_trace(go.Scatter(x=equity.index, y=equity[column], name=column, mode="lines"))
    fig.update_layout(
        height=420,
        yaxis_title="growth of 1",
        hovermode="x unified",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    st.plotly_chart(fig, width="stretch", key="ab.equity")


def render_tests(result: ComparisonResult) -> None:
    """The primary test's rows (they decide), then the secondary tests (they never do)."""
    table = result.to_frame()
    shown = [c for c in _COLUMNS if c in table.columns]
    label = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}[result.spec.correction]
    st.markdown(f"**Primary test: {result.primary_test}** (decides; {label}-adjusted across pairs)")
    st.dataframe(
        table.loc[table["role"] == "primary", shown],
        width="stretch",
        hide_index=True,
        key="ab.primary_table",
    )
    secondary = table.loc[table["role"] == "secondary", shown]
    if not secondary.empty:
        st.markdown(
            "**Secondary tests** (shown for information only; they never decide the verdict; "
            f"each test's p-values {label}-adjusted across pairs)"
        )
        st.dataframe(secondary, width="stretch", hide_index=True, key="ab.secondary_table")
