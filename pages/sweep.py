"""Sweep page: every combination of a parameter grid backtested at once, ranked."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.backtest import costs_period_inputs
from app.components.forms import grid_axis_inputs, numeric_fields, show_errors
from app.components.jobs import forget_job, job_panel, run_id_of, submit_job
from app.components.sweep import fixed_choice_inputs, render_sweep
from app.operations.sweep import SweepRequest
from app.services import runs as run_store
from app.services import sweep
from core.strategies import STRATEGIES
from core.sweep import METRICS

st.title("Sweep")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
full = cached.prices(dataset, symbol, None, None)
first, last = full.index[0].date(), full.index[-1].date()
st.caption(
    f"{dataset}/{symbol}: {len(full):,} bars, {first} → {last}. Every combination of the "
    "grid is backtested at once by the numpy kernel (same fills as the Backtest page)."
)

sweepable = sorted(n for n, e in STRATEGIES.items() if numeric_fields(e.params_model))
strategy = st.selectbox("Strategy", sweepable, key=state.SW_STRATEGY)
with st.form("sweep.form"):
    st.markdown("**Grid** (inclusive ranges; tick the parameters to sweep)")
    model = STRATEGIES[strategy].params_model
    axes, axis_errors = grid_axis_inputs(model, key=f"sw.{strategy}", inline_errors=True)
    fixed = fixed_choice_inputs(model, key=f"sw.{strategy}.fixed")
    # state.init() set its default (the request's); an index= here would clash with it
    metric = st.selectbox("Rank by", METRICS, key=state.SW_METRIC)
    fees, slip, cash, start, end = costs_period_inputs(
        "sw", dataset=dataset, symbol=symbol, first=first, last=last
    )
    n_symbols = len(cached.symbols(dataset))
    every = st.checkbox(
        f"All {n_symbols} symbols of {dataset} (a universe sweep: one job, the best "
        "combination per symbol, the deflated Sharpe over every trial)",
        key="sw.all_symbols",
    )
    go = st.form_submit_button("Run sweep", type="primary")
if go:
    if axis_errors:
        st.error("Fix the grid ranges marked above; nothing was run.")
    else:
        try:
            where = {"all_symbols": True} if every else {"symbol": symbol}
            request = SweepRequest(
                dataset=dataset,
                **where,
                strategy=strategy,
                grid=axes,
                fixed=fixed,
                metric=metric,
                fees=fees,
                slippage=slip,
                init_cash=cash,
                start=start,
                end=end,
            )
        except (ValidationError, ValueError) as exc:
            for message in show_errors(exc, {}):
                st.error(message)
        else:
            st.session_state[state.SW_RUN_ID] = None
            submit_job("sweep", request)

saved = run_store.list_runs(kind="sweep", limit=100)
if saved:
    with st.expander(f"Saved sweeps ({len(saved)})"):
        pick = st.selectbox(
            "Reopen sweep",
            [r.id for r in saved],
            key="sweep.saved",
            format_func=lambda i: next(f"#{r.id} {r.title}" for r in saved if r.id == i),
        )
        if st.button("Reopen", key="sweep.reopen"):
            forget_job("sweep")
            st.session_state[state.SW_RUN_ID] = pick


def _show(run_id: int) -> None:
    outcome = sweep.reopen_sweep(run_id)
    req = outcome.request
    on = (
        f"all {len(outcome.universe.symbols)} symbols of {req.dataset}"
        if outcome.universe
        else req.symbol
    )
    st.subheader(f"Sweep #{run_id}: {req.strategy} on {on}")
    render_sweep(outcome, state.get(state.SW_METRIC))


job = job_panel("sweep", on_done=lambda done: _show(run_id_of(done)))
sw_id = state.get(state.SW_RUN_ID)
if job is None and sw_id is not None:
    _show(sw_id)
