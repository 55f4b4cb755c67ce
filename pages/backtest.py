"""Backtest page: one strategy run, a multi-asset portfolio, saved runs."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.backtest import (
    REBALANCE_LABELS,
    common_period,
    costs_period_inputs,
    regime_inputs,
    render_portfolio,
    symbol_spans,
)
from app.components.backtest_page_parts import PF_RUN_ID, render_run, render_saved_tab
from app.components.forms import model_inputs, show_errors
from app.components.numbers import day
from app.components.universe import render_universe_tab
from app.operations.backtest import BacktestRequest, PortfolioRequest
from app.operations.errors import field_errors
from app.services import backtest
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
spans = symbol_spans(cached.dataset_infos(), dataset)

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
        render_run(run_id)

with book_tab:
    universe = cached.symbols(dataset)
    book_first = min((spans[s][0] for s in universe if s in spans), default=first)
    book_last = max((spans[s][1] for s in universe if s in spans), default=last)
    with st.form("portfolio.form"):
        picks = st.multiselect(
            "Symbols (2-25, shared cash)",
            universe,
            default=universe[: min(5, len(universe))],
            key=f"pf.symbols.{dataset}",
        )
        p1, p2, p3 = st.columns(3)
        weighting = p1.radio(
            "Weights",
            ["equal", "inverse_vol"],
            horizontal=True,
            key="pf.w",
            format_func={"equal": "Equal", "inverse_vol": "Inverse volatility"}.get,
        )
        rebalance = p2.radio(
            "Rebalance",
            list(REBALANCE_LABELS),
            horizontal=True,
            key="pf.reb",
            format_func=REBALANCE_LABELS.get,
            help="Monthly / Weekly: orders on the first bar of each month / week, back to "
            "the target weights (they drift in between). Never: orders only when the "
            "targets change: equal weights are bought once and held; inverse-volatility "
            "targets move every bar, so they are followed daily.",
        )
        gross_default = float(PortfolioRequest.model_fields["gross"].default)
        gross = p3.slider("Gross exposure", 0.1, 1.0, gross_default, 0.05, key="pf.gross")
        book_period = {**period, "symbol": "book", "first": book_first, "last": book_last}
        pf_fees, pf_slip, pf_cash, pf_start, pf_end = costs_period_inputs("pf", **book_period)
        shared = common_period(picks, spans)
        st.caption(
            "The book runs on the bars every chosen symbol has, within the date range"
            + (f": {day(shared[0])} → {day(shared[1])} for the symbols shown." if shared else ".")
        )
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
            st.session_state[PF_RUN_ID] = book.run_id
    pf_id = st.session_state.get(PF_RUN_ID)
    if pf_id is not None:
        book = backtest.reopen_portfolio(pf_id)
        st.subheader(f"Portfolio #{pf_id}: {len(book.request.symbols)} symbols")
        render_portfolio(book, spans)

with universe_tab:
    render_universe_tab(dataset, cached.symbols(dataset))

with saved_tab:
    render_saved_tab()
