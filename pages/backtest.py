"""Backtest page: one strategy run, a multi-asset portfolio, saved runs."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.backtest import (
    costs_period_inputs,
    regime_inputs,
    render_backtest,
    render_portfolio,
    saved_runs_rows,
)
from app.components.forms import model_inputs, show_errors
from app.components.jobs import forget_job
from app.components.report import render_tearsheet
from app.components.universe import render_universe_tab
from app.operations.backtest import BacktestRequest, PortfolioRequest
from app.operations.errors import field_errors
from app.services import backtest
from app.services import runs as run_store
from app.services.data import DataSourceError
from core.strategies import STRATEGIES
from core.strategies.catalog import ParamRangeError, check_windows

st.title("Backtest")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
full = cached.prices(dataset, symbol, None, None)
first, last = full.index[0].date(), full.index[-1].date()
st.caption(f"{dataset}/{symbol}: {len(full):,} bars, {first} → {last}")
period = {"dataset": dataset, "symbol": symbol, "first": first, "last": last}

run_tab, book_tab, universe_tab, saved_tab = st.tabs(
    ["Backtest", "Portfolio", "Universe", "Saved runs"]
)

with run_tab:
    strategy = st.selectbox(
        "Strategy",
        sorted(STRATEGIES),
        key=state.BT_STRATEGY,
        format_func=lambda n: f"{n} — {STRATEGIES[n].description}",
    )
    with st.form("backtest.form"):
        st.markdown("**Parameters**")
        params, slots = model_inputs(STRATEGIES[strategy].params_model, key=f"bt.{strategy}")
        st.markdown("**Costs and period**")
        fees, slip, cash, start, end = costs_period_inputs("bt", **period)
        regime, regime_slot = regime_inputs("bt")
        submitted = st.form_submit_button("Run backtest", type="primary")
    if submitted:
        try:
            STRATEGIES[strategy].params_model.model_validate(params)
            check_windows(strategy, params, len(full.loc[str(start) : str(end)]))
            request = BacktestRequest(
                dataset=dataset,
                symbol=symbol,
                strategy=strategy,
                params=params,
                fees=fees,
                slippage=slip,
                init_cash=cash,
                start=start,
                end=end,
                **regime,
            )
        except (ValidationError, ParamRangeError) as exc:
            for message in show_errors(exc, {**slots, "regimes": regime_slot}):
                st.error(message)
        except ValueError as exc:
            st.error(str(exc))
        else:
            try:
                with st.spinner("Backtesting…"):
                    outcome = backtest.run_backtest(request)
            except (ValueError, DataSourceError) as exc:
                st.error(str(exc))
            else:
                st.session_state[state.BT_RUN_ID] = outcome.run_id
    run_id = state.get(state.BT_RUN_ID)
    if run_id is not None:
        outcome = backtest.reopen_backtest(run_id)
        st.subheader(f"Run #{run_id}: {outcome.request.strategy} on {outcome.request.symbol}")
        if outcome.regime_note:
            st.info(outcome.regime_note)
        render_backtest(outcome)
        render_tearsheet(outcome)

with book_tab:
    universe = cached.symbols(dataset)
    with st.form("portfolio.form"):
        picks = st.multiselect(
            "Symbols (2-25, shared cash)",
            universe,
            default=universe[: min(5, len(universe))],
            key=f"pf.symbols.{dataset}",
        )
        p1, p2, p3 = st.columns(3)
        weighting = p1.radio("Weights", ["equal", "inverse_vol"], horizontal=True, key="pf.w")
        rebalance = p2.radio("Rebalance", ["M", "W", "none"], horizontal=True, key="pf.reb")
        gross_default = float(PortfolioRequest.model_fields["gross"].default)
        gross = p3.slider("Gross exposure", 0.1, 1.0, gross_default, 0.05, key="pf.gross")
        pf_fees, pf_slip, pf_cash, pf_start, pf_end = costs_period_inputs("pf", **period)
        book_go = st.form_submit_button("Run portfolio backtest", type="primary")
    if book_go:
        try:
            book_request = PortfolioRequest(
                dataset=dataset,
                symbols=picks,
                weighting=weighting,
                rebalance=rebalance,
                gross=gross,
                fees=pf_fees,
                slippage=pf_slip,
                init_cash=pf_cash,
                start=pf_start,
                end=pf_end,
            )
            with st.spinner("Backtesting the book…"):
                book = backtest.run_portfolio(book_request)
        except ValidationError as exc:
            labels = {"symbols": "Symbols", "gross": "Gross exposure", "init_cash": "Initial cash"}
            for error in field_errors(exc, labels=labels):
                st.error(error.message)
        except (ValueError, DataSourceError) as exc:
            st.error(str(exc))
        else:
            render_portfolio(book)

with universe_tab:
    render_universe_tab(dataset, cached.symbols(dataset))

with saved_tab:
    saved = [r for r in run_store.list_runs(limit=100) if r.kind in ("backtest", "sweep")]
    if not saved:
        st.info("No saved runs yet. Every backtest and sweep is saved here automatically.")
    else:
        st.dataframe(saved_runs_rows(saved), width="stretch", hide_index=True)
        choice = st.selectbox(
            "Reopen run",
            [r.id for r in saved],
            key="saved.choice",
            format_func=lambda i: next(f"#{r.id} {r.title}" for r in saved if r.id == i),
        )
        if st.button("Reopen", key="saved.reopen"):
            kind = next(r.kind for r in saved if r.id == choice)
            st.session_state[state.BT_RUN_ID if kind == "backtest" else state.SW_RUN_ID] = choice
            if kind == "sweep":
                forget_job("sweep")  # the Sweep page shows this run, not its last job
            st.session_state["saved.reopened"] = (choice, kind)
            st.rerun()
        reopened = st.session_state.get("saved.reopened")
        if reopened:
            where = "the Backtest tab" if reopened[1] == "backtest" else "the Sweep page"
            st.success(f"Run #{reopened[0]} reopened in {where}.")
