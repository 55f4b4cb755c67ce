"""A/B comparison display: the verdict and its deciding rule, then primary and secondary tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.numbers import MISSING, day, integer, number, pct, ratio
from app.components.widgets import render_metric_cards

if TYPE_CHECKING:  # core.abtest imports scipy and statsmodels; a type is all this needs
    from core.abtest import ComparisonResult

CORRECTION_LABELS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}
SPRT_DECISIONS = {
    "accept_h1": "claim accepted: stop",
    "accept_h0": "claim rejected: stop",
    "continue": "undecided: keep testing",
}
"""What each Wald SPRT decision means for a live shadow test."""


def _bp(x: float | None) -> str:
    """A daily return (a fraction) in basis points."""
    return MISSING if x is None else number(x * 1e4, 2)


def _scale(unit: str) -> tuple[Callable[[Any], str], str]:
    """How an estimate in ``unit`` reads: its formatter and the unit text after it.

    >>> fmt, suffix = _scale("mean daily return difference"); fmt(1.2e-5) + suffix
    '0.12 bp/day'
    >>> fmt, suffix = _scale("max drawdown difference (fraction)"); fmt(0.0067) + suffix
    '0.7%'
    """
    if "daily return" in unit:
        return _bp, " bp/day"
    if "sharpe" in unit.lower():
        return ratio, ""
    return pct, ""


def results_table(result: ComparisonResult, role: str) -> pd.DataFrame:
    """The tests of ``role`` ("primary" or "secondary") as the user reads them: estimates
    in their unit (bp/day, Sharpe, %), the ``1 - alpha`` interval, p-values as in the verdict."""
    from core.abtest.comparison import format_p_value

    level = f"{1 - result.spec.alpha:.0%} CI"
    rows = []
    for row in result.tests:
        if row.role != role:
            continue
        fmt, suffix = _scale(row.unit)
        interval = (
            MISSING
            if row.ci_low is None and row.ci_high is None
            else f"[{fmt(row.ci_low)}, {fmt(row.ci_high)}]{suffix}"
        )
        rows.append(
            {  # what decides first (a narrow table scrolls the rest into view)
                "Pair": f"{row.pair[0]} vs {row.pair[1]}",
                "Test": row.test,
                "Adjusted p": format_p_value(row.p_adjusted),
                "Significant": "yes" if row.significant else "no",
                "Favours": row.favours or MISSING,
                "Estimate (first - second)": fmt(row.estimate) + suffix,
                level: interval,
                "p-value": format_p_value(row.p_value),
                "Note": row.note,
            }
        )
    return pd.DataFrame(rows)


def render_verdict(result: ComparisonResult) -> None:
    """The verdict box, the line naming the deciding test, and summary cards."""
    box = st.success if " better than " in result.verdict else st.info
    box(f"**Verdict:** {result.verdict}")
    st.markdown(f"**Decided by:** {result.primary_test}: {result.decision_rule}.")
    pairs = len(result.primary_rows())
    render_metric_cards(
        [
            ("Common days", integer(result.n_obs)),
            ("Arms", str(len(result.names))),
            ("Pairs", str(pairs)),
            ("Days needed", integer(result.min_sample_size) if result.min_sample_size else "n/a"),
        ]
    )
    if result.start and result.end:
        st.caption(
            f"Arms: {', '.join(result.names)}. Compared on their common days from "
            f"{day(result.start)} to {day(result.end)}. Days needed: the days the primary test "
            f"would need for {result.spec.power:.0%} power at the observed mean difference "
            "(n/a when a pair differs or no difference is seen)."
        )


def render_equity(equity: pd.DataFrame) -> None:
    """Growth of 1 for each arm (legend above the plot, so that it fits a narrow screen)."""
    fig = go.Figure()
    for column in equity.columns:
        fig.add_trace(
            go.Scatter(
                x=equity.index,
                y=equity[column],
                name=str(column),
                mode="lines",
                hovertemplate="%{y:.2f}",
            )
        )
    fig.update_layout(
        height=420,
        yaxis_title="growth of 1",
        hovermode="x unified",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    st.plotly_chart(fig, width="stretch", key="ab.equity")


def render_tests(result: ComparisonResult) -> None:
    """The primary test's rows (they decide), then the secondary tests (they never do)."""
    label = CORRECTION_LABELS[result.spec.correction]
    st.markdown(f"**Primary test: {result.primary_test}** (decides; {label}-adjusted across pairs)")
    st.dataframe(
        results_table(result, "primary"), width="stretch", hide_index=True, key="ab.primary_table"
    )
    secondary = results_table(result, "secondary")
    if not secondary.empty:
        st.markdown(
            "**Secondary tests** (shown for information only; they never decide the verdict; "
            f"each test's p-values {label}-adjusted across pairs)"
        )
        st.dataframe(secondary, width="stretch", hide_index=True, key="ab.secondary_table")


def sequential_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The SPRT rows (:func:`core.abtest.sequential.shadow_tests`) with readable headers."""
    frame = pd.DataFrame(rows, columns=["claim", "decision", "days_used", "days_available"])
    return pd.DataFrame(
        {
            "Claim": frame["claim"],
            "Decision": [SPRT_DECISIONS.get(str(d), str(d)) for d in frame["decision"]],
            "Days used": [integer(v) for v in frame["days_used"]],
            "Days available": [integer(v) for v in frame["days_available"]],
        }
    )
