"""Ensemble page: tuned agents, an online bandit selector over them, judged out of sample."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from app import state
from app.components.ensemble import render_ensemble, request_bounds
from app.components.forms import cost_inputs
from app.components.jobs import job_panel, run_id_of, submit_job
from app.components.tables import column_formats
from app.operations.ensemble import EnsembleRequest
from app.operations.errors import field_errors
from app.services import runs as run_store

if TYPE_CHECKING:
    from app.services.jobs import JobView

SELECTOR = "ensemble.selector"
TRAIN_FRACTION = "ensemble.train_fraction"
SEED = "ensemble.seed"
SELECTOR_LABELS = {
    "ucb": "UCB1",
    "thompson": "Thompson sampling",
    "exp3": "EXP3 (adversarial)",
    "contextual": "Contextual UCB (by regime)",
}
LABELS = {
    "selector": "Selector",
    "train_fraction": "Training fraction",
    "seed": "Seed",
    "fees": "Fees",
    "slippage": "Slippage",
}
DEFAULTS = EnsembleRequest.model_fields

st.title("Ensemble")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
st.caption(
    "Four agents (conservative, aggressive, balanced, contrarian) are tuned on the training "
    "bars; a bandit selector then weights them bar by bar on the rest, learning only from "
    "returns already realized. Every run is saved."
)

with st.form("ensemble.form"):
    c1, c2, c3 = st.columns([2, 2, 1])
    selector = c1.radio(
        LABELS["selector"],
        list(SELECTOR_LABELS),
        index=list(SELECTOR_LABELS).index(DEFAULTS["selector"].default),
        key=SELECTOR,
        format_func=SELECTOR_LABELS.get,
        help="Contextual UCB keeps one set of statistics per filtered HMM regime.",
    )
    train_fraction = c2.slider(
        LABELS["train_fraction"],
        *request_bounds("train_fraction"),
        DEFAULTS["train_fraction"].default,
        0.05,
        key=TRAIN_FRACTION,
        help=DEFAULTS["train_fraction"].description,
    )
    seed = c3.number_input(
        LABELS["seed"], *request_bounds("seed"), DEFAULTS["seed"].default, 1, key=SEED
    )
    k1, k2, _ = st.columns([1, 1, 2])
    fees, slippage = cost_inputs(k1, k2, fees_key="ensemble.fees", slippage_key="ensemble.slip")
    submitted = st.form_submit_button("Run ensemble", type="primary")

if submitted:
    try:
        request = EnsembleRequest(
            dataset=dataset,
            symbol=symbol,
            selector=selector,
            train_fraction=float(train_fraction),
            seed=int(seed),
            fees=fees,
            slippage=slippage,
        )
    except ValidationError as exc:
        for error in field_errors(exc, labels=LABELS):
            st.error(error.message)
    else:
        submit_job("ensemble eval", request)


def _show(job: JobView) -> None:
    from app.services.ensemble_reopen import reopen_ensemble

    outcome = reopen_ensemble(run_id_of(job))
    req = outcome.request
    if (req.dataset, req.symbol) != (dataset, symbol):
        st.warning(
            f"Showing the last run on {req.dataset}/{req.symbol}; the sidebar now selects "
            f"{dataset}/{symbol}. Run again to evaluate it."
        )
    st.subheader(
        f"Run #{outcome.run_id}: {SELECTOR_LABELS[req.selector]} on {req.symbol} "
        f"(train {req.train_fraction:.0%}, seed {req.seed})"
    )
    render_ensemble(outcome)


if job_panel("ensemble eval", on_done=_show) is None:
    st.info("Choose a selector and press **Run ensemble** (about 5 seconds on daily data).")

saved = run_store.list_runs(kind="ensemble", limit=50)
with st.expander(f"Saved ensemble runs ({len(saved)})"):
    if not saved:
        st.caption("None yet.")
    else:
        table = pd.DataFrame(
            [
                {
                    "Run id": r.id,
                    "Created (UTC)": pd.Timestamp(r.created_at),
                    "Symbol": f"{r.spec.get('dataset')}/{r.spec.get('symbol')}",
                    "Selector": SELECTOR_LABELS.get(str(r.spec.get("selector")), "–"),
                    "Training fraction": r.spec.get("train_fraction"),
                    "Seed": r.spec.get("seed"),
                    "Ensemble Sharpe": r.metrics.get("ensemble_sharpe"),
                    "Best single Sharpe": r.metrics.get("best_single_sharpe"),
                    "Equal-weight Sharpe": r.metrics.get("equal_weight_sharpe"),
                    "Regret": r.metrics.get("regret"),
                    "Switches": r.metrics.get("switches"),
                }
                for r in saved
            ]
        ).astype({"Training fraction": float, "Regret": float, "Switches": "Int64"})
        st.dataframe(
            table,
            width="stretch",
            hide_index=True,
            key="ensemble.saved",
            column_config=column_formats(table, kinds={"Regret": "percent"})
            | {"Seed": st.column_config.NumberColumn(format="%d")},
        )
