"""Walk-forward page: rolling or anchored out-of-sample validation, DSR, PBO, look-ahead."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.forms import cost_inputs, grid_axis_inputs, numeric_fields, show_errors
from app.components.walkforward import render_lookahead, render_walkforward
from app.services import walkforward as wf
from app.services.data import DataSourceError
from core.features import available_features
from core.strategies import STRATEGIES
from core.sweep import METRICS, GridAxis

OUTCOME = "wf.outcome"
REPORT = "wf.lookahead"
MODELS = ["logistic", "random_forest", "xgboost"]

st.title("Walk-forward")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
prices = cached.prices(dataset, symbol, None, None)
st.caption(
    f"{dataset}/{symbol}: {len(prices):,} bars, {prices.index[0].date()} → "
    f"{prices.index[-1].date()}. Each fold picks its configuration (or fits its model) on the "
    "training window only and trades the next test window; the test windows are stitched."
)

left, right = st.columns([1, 2])
kind = left.radio(
    "What to validate",
    ["rule", "model"],
    horizontal=True,
    key="wf.kind",
    format_func={"rule": "Rule strategy + grid", "model": "ML model"}.get,
)
sweepable = sorted(n for n, e in STRATEGIES.items() if numeric_fields(e.params_model))
strategy = (
    right.selectbox(
        "Strategy",
        sweepable,
        index=sweepable.index("ma_crossover") if "ma_crossover" in sweepable else 0,
        key="wf.strategy",
        format_func=lambda n: f"{n} — {STRATEGIES[n].description}",
    )
    if kind == "rule"
    else None
)

with st.form("wf.form"):
    st.markdown("**Folds**")
    f1, f2, f3, f4, f5 = st.columns(5)
    mode = f1.radio(
        "Mode",
        ["rolling", "anchored"],
        horizontal=True,
        key="wf.mode",
        help="rolling: the last `train bars` before each test window; anchored: all bars "
        "from the start.",
    )
    train_bars = f2.number_input("Train bars", 100, 20_000, 1000, 50, key="wf.train_bars")
    test_bars = f3.number_input("Test bars", 20, 5_000, 250, 10, key="wf.test_bars")
    step_bars = f4.number_input(
        "Step (0 = test bars)", 0, 5_000, 0, 10, key="wf.step", help="Must be ≥ test bars."
    )
    folds = f5.number_input(
        "Folds (0 = all that fit)",
        0,
        100,
        0,
        key="wf.folds",
        help="Keep only the most recent N folds.",
    )
    slots = {
        "train_bars": f2.empty(),
        "test_bars": f3.empty(),
        "step_bars": f4.empty(),
        "folds": f5.empty(),
    }
    axes: dict[str, GridAxis] = {}
    axis_errors: list[str] = []
    if strategy is not None:
        st.markdown("**Grid** (inclusive ranges; tick the parameters to search in each fold)")
        model = STRATEGIES[strategy].params_model
        axes, axis_errors = grid_axis_inputs(model, key=f"wf.{strategy}", coarse_int_steps=True)
        metric = st.selectbox(
            "Pick each fold's configuration by (in sample)",
            METRICS,
            index=METRICS.index("sharpe"),
            key="wf.metric",
        )
    else:
        st.markdown("**Model**")
        m1, m2, m3, m4, m5 = st.columns(5)
        model_kind = m1.selectbox("Model", MODELS, index=0, key="wf.model")
        horizon = m2.number_input("Horizon (bars)", 1, 60, 5, key="wf.horizon")
        threshold = m3.number_input("Threshold", 0.50, 0.99, 0.50, 0.01, key="wf.threshold")
        retune = m4.toggle("Retune each fold (Optuna)", value=False, key="wf.retune")
        n_trials = m5.number_input("Trials per fold", 1, 200, 10, key="wf.n_trials")
        names = available_features(prices.columns)
        features = st.multiselect(
            f"Features ({len(names)} available)",
            names,
            default=names,
            key=f"wf.features.{dataset}.{symbol}",
        )
        slots["features"] = st.empty()
        allow_lookahead = st.checkbox(
            "Run even if the look-ahead check flags a feature (results are flagged)",
            value=False,
            key="wf.allow_lookahead",
        )
    c1, c2 = st.columns(2)
    fees, slip = cost_inputs(c1, c2, fees_key="wf.fees", slippage_key="wf.slippage")
    submitted = st.form_submit_button("Run walk-forward", type="primary")

if submitted:
    request = None
    common = {
        "dataset": dataset,
        "symbol": symbol,
        "mode": mode,
        "train_bars": int(train_bars),
        "test_bars": int(test_bars),
        "step_bars": int(step_bars) or None,
        "folds": int(folds) or None,
        "fees": fees,
        "slippage": slip,
    }
    if axis_errors:
        for message in axis_errors:
            st.error(message)
    elif strategy is None and not features:
        slots["features"].error("Choose at least one feature.")
    else:
        try:
            if strategy is not None:
                request = wf.WalkForwardRequest(
                    **common, strategy=strategy, grid=axes, metric=metric
                )
            else:
                request = wf.WalkForwardRequest(
                    **common,
                    model=model_kind,
                    features=features,
                    horizon=int(horizon),
                    threshold=float(threshold),
                    retune=retune,
                    n_trials=int(n_trials),
                    allow_lookahead=allow_lookahead,
                )
        except ValidationError as exc:
            for message in show_errors(exc, slots):
                st.error(message)
    if request is not None:
        bar = st.progress(0.0, text="Starting walk-forward…")
        try:
            outcome = wf.run_walkforward(
                request, progress=lambda f, text: bar.progress(min(max(f, 0.0), 1.0), text=text)
            )
        except ValidationError as exc:
            bar.empty()
            for message in show_errors(exc, slots):
                st.error(message)
        except (ValueError, DataSourceError) as exc:
            bar.empty()
            st.error(str(exc))
        else:
            bar.progress(1.0, text=f"Done: {len(outcome.result.folds)} folds")
            st.session_state[OUTCOME] = outcome

outcome: wf.WalkForwardOutcome | None = st.session_state.get(OUTCOME)
if outcome is not None:
    req = outcome.request
    what = (
        f"{req.strategy} (grid {', '.join(req.grid)})"
        if req.strategy
        else f"{req.model} h={req.horizon}"
    )
    st.subheader(f"Run #{outcome.run_id}: {what} on {req.symbol}, {req.mode}")
    render_walkforward(outcome)
    st.download_button(
        "Download report (HTML)",
        wf.report_html(outcome).encode(),
        file_name=f"walkforward_{outcome.run_id}.html",
        mime="text/html",
        key="wf.download",
    )

st.divider()
with st.expander("Look-ahead check", expanded=st.session_state.get(REPORT) is not None):
    st.caption(
        "Recomputes the signal or features on data truncated at random bars and flags any "
        "value that changes once later bars are added (it must not, for a causal signal)."
    )
    target = st.radio(
        "Check",
        ["strategy", "features"],
        horizontal=True,
        key="wf.la.target",
        format_func={"strategy": "A strategy (default parameters)", "features": "All features"}.get,
    )
    la_strategy = None
    leaky = False
    if target == "strategy":
        la_strategy = st.selectbox("Strategy", sorted(STRATEGIES), key="wf.la.strategy")
        subject = f"strategy {la_strategy} on {symbol}"
    else:
        leaky = st.checkbox(
            "Include the deliberately leaky demo feature (next bar's return)",
            key="wf.la.leaky",
        )
        subject = f"all features on {symbol}" + (" + the leaky demo" if leaky else "")
    if st.button("Run look-ahead check", key="wf.la.run"):
        try:
            with st.spinner("Recomputing on truncated data…"):
                report = wf.lookahead(
                    dataset=dataset,
                    symbol=symbol,
                    strategy=la_strategy,
                    include_leaky_demo=leaky,
                )
        except (ValueError, DataSourceError) as exc:
            st.session_state[REPORT] = None
            st.error(str(exc))
        else:
            st.session_state[REPORT] = (subject, report)
    checked = st.session_state.get(REPORT)
    if checked is not None:
        st.markdown(f"**Result for {checked[0]}**")
        render_lookahead(checked[1])
