"""The universe backtest (one strategy on every symbol of a dataset) as a job: its form,
live progress, and the per-symbol table with a chart of Sharpe against buy-and-hold."""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
import streamlit as st
from pydantic import ValidationError

from app.components.charts import render_figures
from app.components.forms import cost_inputs, model_inputs, show_errors
from app.components.jobs import job_panel, run_id_of, submit_job
from app.components.numbers import ratio
from app.components.tables import column_formats
from app.operations.universe import UniverseOutcome, UniverseRequest
from core.strategies import STRATEGIES

if TYPE_CHECKING:
    from app.services.jobs import JobView

KIND = "universe"
REOPENED = "uv.run_id"
"""Session key of a universe run reopened from Saved runs (shown while no job is open)."""


def sharpe_figure(outcome: UniverseOutcome) -> go.Figure:
    """Sharpe of the strategy and of buy-and-hold, one pair of bars per symbol."""
    table = outcome.table[outcome.table["note"] == ""].sort_values("sharpe", ascending=False)
    fig = go.Figure(
        [
            go.Bar(x=table["symbol"], y=table["sharpe"], name=outcome.request.strategy),
            go.Bar(x=table["symbol"], y=table["benchmark_sharpe"], name="buy and hold"),
        ]
    )
    fig.update_layout(
        barmode="group",
        height=380,
        yaxis_title="Sharpe (annualized)",
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def render_universe(outcome: UniverseOutcome) -> None:
    """Headline cards, the Sharpe chart and the table (one row per symbol)."""
    s = outcome.summary()
    render_figures(
        [
            ("Symbols backtested", f"{s['backtested']:,} of {s['symbols']:,}"),
            ("Median Sharpe", ratio(s["median_sharpe"])),
            ("Beat buy-and-hold", f"{s['beat_benchmark']:,}"),
            ("Best / worst", f"{s['best']} / {s['worst']}"),
        ]
    )
    st.plotly_chart(sharpe_figure(outcome), width="stretch", key=f"universe.{outcome.run_id}")
    table = outcome.table
    st.dataframe(
        table,
        width="stretch",
        hide_index=True,
        key="universe.table",
        column_config=column_formats(table),
    )
    st.caption(
        f"Run #{outcome.run_id}. Each row equals that symbol's single backtest. "
        f"Execution: {outcome.execution}."
    )


def _show(job: JobView) -> None:
    from app.services.universe import reopen_universe

    outcome = reopen_universe(run_id_of(job))
    st.subheader(
        f"Universe #{outcome.run_id}: {outcome.request.strategy} on {outcome.request.dataset}"
    )
    render_universe(outcome)


def render_universe_tab(dataset: str, symbols: list[str]) -> None:
    """The form (strategy, parameters, symbols, costs), then the open universe job."""
    st.caption(
        "One strategy with fixed parameters backtested on every chosen symbol of the dataset "
        "(one job), next to buy-and-hold of the same symbol."
    )
    strategy = st.selectbox("Strategy", sorted(STRATEGIES), key="uv.strategy")
    with st.form("universe.form"):
        params, slots = model_inputs(STRATEGIES[strategy].params_model, key=f"uv.{strategy}")
        picks = st.multiselect("Symbols", symbols, default=symbols, key=f"uv.symbols.{dataset}")
        c1, c2, _ = st.columns([1, 1, 2])
        fees, slippage = cost_inputs(c1, c2, fees_key="uv.fees", slippage_key="uv.slippage")
        go_run = st.form_submit_button("Backtest the universe", type="primary")
    if go_run:
        if not picks:
            st.error("Choose at least one symbol.")
        else:
            try:
                request = UniverseRequest(
                    dataset=dataset,
                    symbols=[] if len(picks) == len(symbols) else picks,
                    strategy=strategy,
                    params=params,
                    fees=fees,
                    slippage=slippage,
                )
            except (ValidationError, ValueError) as exc:
                for message in show_errors(exc, slots):
                    st.error(message)
            else:
                st.session_state.pop(REOPENED, None)
                submit_job(KIND, request)
    job = job_panel(KIND, on_done=_show)
    reopened = st.session_state.get(REOPENED)
    if job is None and reopened is not None:
        from app.services.universe import reopen_universe

        outcome = reopen_universe(reopened)
        st.subheader(f"Universe #{outcome.run_id}: {outcome.request.strategy} (reopened)")
        render_universe(outcome)
