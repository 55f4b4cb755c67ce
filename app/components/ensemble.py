"""Ensemble components: agents, per-regime performance, selector state, curves, switches
(figures from :mod:`._ensemble_figures`, tables and cards from :mod:`._ensemble_tables`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import annotated_types as at
import pandas as pd
import streamlit as st

from app.components._ensemble_figures import (
    cumulative_figure,
    regime_heatmap,
    regret_figure,
    weights_figure,
)
from app.components._ensemble_tables import (
    AGENT_FORMATS,
    agents_table,
    metric_cards,
    regime_table,
    regret_reference,
    switch_table,
)
from app.components.tables import column_formats
from app.components.widgets import render_metric_cards
from app.operations.ensemble import EnsembleOutcome, EnsembleRequest

SWITCH_TABLE_CAP = 500  # most recent switches shown (the full log can be downloaded)


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
    render_metric_cards(metric_cards(payload))
    st.caption(
        f"Out of sample: {payload['oos_bars']:,} bars after {payload['train_bars']:,} training "
        f"bars. Best single = best agent in hindsight by OOS Sharpe. "
        f"Execution: {payload['execution']}."
    )
    st.markdown("**Agents** (tuned on the training bars only)")
    st.dataframe(
        agents_table(outcome).style.format(AGENT_FORMATS, na_rep="n/a"),
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
        table = regime_table(outcome.by_regime)
        st.dataframe(
            table,
            width="stretch",
            hide_index=True,
            key="ensemble.by_regime",
            column_config=column_formats(table, kinds={"Ann. return": "percent"}),
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
    shown = switch_table(log, cap=SWITCH_TABLE_CAP)
    capped = f", newest {len(shown)} shown" if len(shown) < len(log) else ""
    st.markdown(f"**Switches of the top-weighted agent** ({len(log)}{capped})")
    st.dataframe(shown, width="stretch", hide_index=True, key="ensemble.switches")
    st.download_button(
        "Download switch log (CSV)",
        lambda: switch_table(log, cap=len(log)).to_csv(index=False).encode(),  # on click
        file_name=f"ensemble_switches_{outcome.run_id}.csv",
        mime="text/csv",
        key="ensemble.switches.download",
    )
