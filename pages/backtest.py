"""Backtest page: one strategy run, a vectorized parameter sweep, saved runs."""

from __future__ import annotations

from datetime import date

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.backtest import render_backtest, render_portfolio, render_sweep
from app.components.forms import (
    cost_inputs,
    grid_axis_inputs,
    model_inputs,
    numeric_fields,
    show_errors,
)
from app.services import research
from app.services import runs as run_store
from app.services.data import DataSourceError
from core.strategies import STRATEGIES
from core.strategies.catalog import ParamRangeError, check_windows
from core.sweep import METRICS

st.title("Backtest")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
full = cached.prices(dataset, symbol, None, None)
first, last = full.index[0].date(), full.index[-1].date()
st.caption(f"{dataset}/{symbol}: {len(full):,} bars, {first} → {last}")

run_tab, sweep_tab, book_tab, saved_tab = st.tabs(["Backtest", "Sweep", "Portfolio", "Saved runs"])


def _costs_inputs(prefix: str) -> tuple[float, float, float, date, date]:
    c1, c2, c3, c4 = st.columns(4)
    fees, slip = cost_inputs(c1, c2, fees_key=f"{prefix}.fees", slippage_key=f"{prefix}.slip")
    cash = c3.number_input("Initial cash", 1_000.0, 1e9, 100_000.0, 1_000.0, key=f"{prefix}.cash")
    picked = c4.date_input(
        "Date range",
        (first, last),
        min_value=first,
        max_value=last,
        key=f"{prefix}.range.{dataset}.{symbol}",
    )
    start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last)
    return fees, slip, cash, start, end


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
        fees, slip, cash, start, end = _costs_inputs("bt")
        with st.expander("Regime filter (optional)"):
            r1, r2, r3 = st.columns([1, 2, 1])
            regime_mode = r1.radio(
                "Mode",
                ["off", "filter", "scale"],
                horizontal=True,
                key="bt.regime_mode",
                help="filter: trade only in the chosen regimes; scale: size by confidence",
            )
            allowed = r2.multiselect(
                "Trade in regimes",
                ["bull", "bear", "sideways", "volatile"],
                default=["bull", "sideways"],
                key="bt.regimes",
            )
            min_prob = r3.slider("Min probability", 0.0, 1.0, 0.5, 0.05, key="bt.regime_p")
            regime_slot = st.empty()
            st.caption(
                "Uses forward-filtered HMM probabilities; the HMM is fitted only on bars "
                "before the test window (or on the first 750 bars, kept flat)."
            )
        submitted = st.form_submit_button("Run backtest", type="primary")
    if submitted:
        try:
            STRATEGIES[strategy].params_model.model_validate(params)
            check_windows(strategy, params, len(full.loc[str(start) : str(end)]))
            request = research.BacktestRequest(
                dataset=dataset,
                symbol=symbol,
                strategy=strategy,
                params=params,
                fees=fees,
                slippage=slip,
                init_cash=cash,
                start=start,
                end=end,
                regime_mode=regime_mode,
                regimes=allowed,
                regime_min_prob=min_prob,
            )
        except (ValidationError, ParamRangeError) as exc:
            for message in show_errors(exc, {**slots, "regimes": regime_slot}):
                st.error(message)
        except ValueError as exc:
            st.error(str(exc))
        else:
            try:
                with st.spinner("Backtesting…"):
                    outcome = research.run_backtest(request)
            except (ValueError, DataSourceError) as exc:
                st.error(str(exc))
            else:
                st.session_state[state.BT_RUN_ID] = outcome.run_id
    run_id = state.get(state.BT_RUN_ID)
    if run_id is not None:
        outcome = research.reopen_backtest(run_id)
        st.subheader(f"Run #{run_id}: {outcome.request.strategy} on {outcome.request.symbol}")
        if outcome.regime_note:
            st.info(outcome.regime_note)
        render_backtest(outcome)
        if st.button("Build tear sheet (quantstats)", key="bt.tearsheet"):
            with st.spinner("Rendering tear sheet…"):
                st.session_state["backtest.tearsheet"] = (run_id, research.tearsheet(outcome))
        sheet = st.session_state.get("backtest.tearsheet")
        if sheet and sheet[0] == run_id:
            st.download_button(
                "Download tear sheet (HTML)",
                sheet[1].encode(),
                file_name=f"tearsheet_{run_id}.html",
                mime="text/html",
                key="bt.tearsheet.download",
            )

with sweep_tab:
    sweepable = sorted(n for n, e in STRATEGIES.items() if numeric_fields(e.params_model))
    sw_strategy = st.selectbox("Strategy", sweepable, key=state.SW_STRATEGY)
    model = STRATEGIES[sw_strategy].params_model
    with st.form("sweep.form"):
        st.markdown("**Grid** (inclusive ranges; tick the parameters to sweep)")
        axes, axis_errors = grid_axis_inputs(model, key=f"sw.{sw_strategy}", inline_errors=True)
        metric = st.selectbox(
            "Rank by", METRICS, index=METRICS.index("sharpe"), key=state.SW_METRIC
        )
        fees, slip, cash, start, end = _costs_inputs("sw")
        go = st.form_submit_button("Run sweep", type="primary")
    if go:
        if axis_errors:
            st.error("Fix the grid ranges marked above; nothing was run.")
        else:
            try:
                request = research.SweepRequest(
                    dataset=dataset,
                    symbol=symbol,
                    strategy=sw_strategy,
                    grid=axes,
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
                bar = st.progress(0.0, text="Starting sweep…")
                try:
                    outcome = research.run_sweep(
                        request, progress=lambda f, text: bar.progress(f, text=text)
                    )
                except (ValueError, DataSourceError) as exc:
                    st.error(str(exc))
                else:
                    st.session_state[state.SW_RUN_ID] = outcome.run_id
    sw_id = state.get(state.SW_RUN_ID)
    if sw_id is not None:
        outcome = research.reopen_sweep(sw_id)
        st.subheader(f"Sweep #{sw_id}: {outcome.request.strategy} on {outcome.request.symbol}")
        render_sweep(outcome, state.get(state.SW_METRIC))

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
        gross = p3.slider("Gross exposure", 0.1, 1.0, 1.0, 0.05, key="pf.gross")
        pf_fees, pf_slip, pf_cash, pf_start, pf_end = _costs_inputs("pf")
        book_go = st.form_submit_button("Run portfolio backtest", type="primary")
    if book_go:
        try:
            book_request = research.PortfolioRequest(
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
                book = research.run_portfolio(book_request)
        except ValidationError as exc:
            for err in exc.errors():
                st.error(f"{'.'.join(map(str, err['loc']))}: {err['msg']}")
        except (ValueError, DataSourceError) as exc:
            st.error(str(exc))
        else:
            render_portfolio(book)

with saved_tab:
    saved = run_store.list_runs(limit=100)
    saved = [r for r in saved if r.kind in ("backtest", "sweep")]
    if not saved:
        st.info("No saved runs yet. Every backtest and sweep is saved here automatically.")
    else:
        rows = [
            {
                "id": r.id,
                "kind": r.kind,
                "title": r.title,
                "created": r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                "sharpe": r.metrics.get("sharpe"),
                "total_return": r.metrics.get("total_return"),
                "combinations": r.metrics.get("combinations"),
            }
            for r in saved
        ]
        st.dataframe(rows, width="stretch", hide_index=True)
        choice = st.selectbox(
            "Reopen run",
            [r.id for r in saved],
            key="saved.choice",
            format_func=lambda i: next(f"#{r.id} {r.title}" for r in saved if r.id == i),
        )
        if st.button("Reopen", key="saved.reopen"):
            kind = next(r.kind for r in saved if r.id == choice)
            st.session_state[state.BT_RUN_ID if kind == "backtest" else state.SW_RUN_ID] = choice
            st.session_state["saved.reopened"] = (choice, kind)
            st.rerun()
        reopened = st.session_state.get("saved.reopened")
        if reopened:
            st.success(f"Run #{reopened[0]} reopened in the {reopened[1].title()} tab.")
