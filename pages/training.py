"""Training page: fit a classifier on the selected symbol, evaluate it, register it."""

from __future__ import annotations

import json

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.forms import cost_inputs, show_errors
from app.components.ml import render_training
from app.services import auth, ml
from app.services import runs as run_store
from app.services.data import DataSourceError
from app.session import current_actor
from core.features import REGISTRY, available_features

OUTCOME = "training.outcome"
RUN_ID = "training.run_id"
REGISTERED = "training.registered"
KINDS = ["logistic", "random_forest", "xgboost"]

st.title("Training")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
prices = cached.prices(dataset, symbol, None, None)
names = available_features(prices.columns)
st.caption(
    f"{dataset}/{symbol}: {len(prices):,} bars, {prices.index[0].date()} → "
    f"{prices.index[-1].date()}. The last part of the history is held out as the test period "
    "(with an embargo of `horizon` bars); tuning uses purged K-fold CV on the training part only."
)

with st.form("training.form"):
    c1, c2, c3, c4 = st.columns(4)
    kind = c1.selectbox(
        "Model",
        KINDS,
        index=KINDS.index("xgboost"),
        key="training.kind",
        format_func={
            "logistic": "Logistic regression",
            "random_forest": "Random forest",
            "xgboost": "XGBoost",
        }.get,
    )
    horizon = c2.number_input(
        "Horizon (bars)",
        1,
        60,
        5,
        key="training.horizon",
        help="Predict the direction of the next `horizon` bars.",
    )
    label = c3.radio(
        "Label",
        ["sign", "triple_barrier"],
        horizontal=True,
        key="training.label",
        help="sign: forward return > 0; triple_barrier: which of ±1 daily vol × √horizon "
        "barriers is touched first (time barrier at the horizon).",
    )
    test_fraction = c4.slider("Test fraction", 0.10, 0.50, 0.25, 0.05, key="training.test_fraction")
    feature_key = f"training.features.{dataset}.{symbol}"
    features = st.multiselect(
        f"Features ({len(names)} available for these columns)",
        names,
        default=names,
        key=feature_key,
        help="All features computable from this dataset's columns are selected by default.",
    )
    features_slot = st.empty()
    with st.expander("Feature catalogue"):
        st.dataframe(
            [
                {
                    "feature": n,
                    "inputs": ", ".join(REGISTRY[n].inputs),
                    "lookback": REGISTRY[n].lookback,
                    "description": REGISTRY[n].description,
                }
                for n in names
            ],
            hide_index=True,
            width="stretch",
        )
    t1, t2, t3, t4 = st.columns(4)
    tune = t1.toggle("Tune with Optuna", value=False, key="training.tune")
    n_trials = t2.number_input(
        "Trials", 1, 500, 20, key="training.n_trials", help="Optuna trials when tuning is on."
    )
    threshold = t3.number_input(
        "Threshold",
        0.50,
        0.99,
        0.50,
        0.01,
        key="training.threshold",
        help="Go long when the up-probability exceeds it (short below 1 − threshold).",
    )
    seed = t4.number_input("Seed", 0, 2**31 - 1, 0, key="training.seed")
    allow_short = st.checkbox("Allow short positions", value=False, key="training.allow_short")
    allow_lookahead = st.checkbox(
        "Train even if the look-ahead check flags a feature (results are flagged)",
        value=False,
        key="training.allow_lookahead",
        help="The features are recomputed on truncated data first; a leaky one is refused.",
    )
    with st.expander("Costs and fixed hyperparameters"):
        k1, k2, k3 = st.columns([1, 1, 2])
        fees, slip = cost_inputs(k1, k2, fees_key="training.fees", slippage_key="training.slippage")
        params_text = k3.text_input(
            "Fixed hyperparameters (JSON)",
            value="",
            key="training.params",
            placeholder='e.g. {"max_depth": 3}',
            help="Kept as given; with tuning on, Optuna searches only the others.",
        )
        params_slot = st.empty()
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    request = None
    try:
        params = json.loads(params_text) if params_text.strip() else {}
        if not isinstance(params, dict):
            raise TypeError
    except (ValueError, TypeError):
        params_slot.error('Fixed hyperparameters must be a JSON object, e.g. {"max_depth": 3}.')
    else:
        if not features:
            features_slot.error("Choose at least one feature.")
        else:
            try:
                request = ml.TrainRequest(
                    dataset=dataset,
                    symbol=symbol,
                    kind=kind,
                    params=params,
                    features=features,
                    horizon=int(horizon),
                    label=label,
                    test_fraction=float(test_fraction),
                    tune=tune,
                    n_trials=int(n_trials),
                    seed=int(seed),
                    threshold=float(threshold),
                    allow_short=allow_short,
                    fees=fees,
                    slippage=slip,
                    allow_lookahead=allow_lookahead,
                )
            except ValidationError as exc:
                slots = {"features": features_slot, "params": params_slot}
                for message in show_errors(exc, slots):
                    st.error(message)
    if request is not None:
        with st.status(f"Training {kind} on {symbol}…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting…")

            def report(fraction: float, message: str) -> None:
                bar.progress(min(max(fraction, 0.0), 1.0), text=message)

            try:
                outcome = ml.train(request, progress=report)
            except (ValueError, DataSourceError) as exc:
                status.update(label="Training failed", state="error")
                st.error(str(exc))
            else:
                status.update(
                    label=f"Trained run #{outcome.run_id} ({outcome.trials} trial(s))",
                    state="complete",
                    expanded=False,
                )
                st.session_state[OUTCOME] = outcome
                st.session_state[RUN_ID] = outcome.run_id
                st.session_state[REGISTERED] = None

outcome: ml.TrainOutcome | None = st.session_state.get(OUTCOME)
if outcome is not None:
    st.subheader(
        f"Run #{outcome.run_id}: {outcome.request.kind} on {outcome.request.symbol}, "
        f"h={outcome.request.horizon}"
    )
    render_training(outcome)

st.divider()
st.subheader("Register a model")
saved = run_store.list_runs(kind="train", limit=100)
if not saved:
    st.info("Train a model first; every training run is saved and can be registered.")
else:
    ids = [r.id for r in saved]
    current = st.session_state.get(RUN_ID)
    titles = {
        r.id: f"#{r.id} {r.title} · AUC {r.metrics.get('roc_auc') or float('nan'):.4f} · "
        f"{r.created_at:%Y-%m-%d %H:%M}"
        for r in saved
    }
    with st.form("training.register"):
        r1, r2 = st.columns([2, 1])
        run_choice = r1.selectbox(
            "Training run",
            ids,
            index=ids.index(current) if current in ids else 0,
            format_func=titles.get,
            key="training.register.run",
        )
        name = r2.text_input(
            "Model name",
            key="training.register.name",
            placeholder="e.g. sp500-xgb-h5",
            help="1-64 letters, digits, '-' or '_'. Registering an existing name adds a version.",
        )
        go = st.form_submit_button("Register model")
    if go:
        try:
            version = ml.register(int(run_choice), name.strip(), actor=current_actor())
        except (auth.PermissionDenied, LookupError, ValueError, RuntimeError) as exc:
            st.session_state[REGISTERED] = None
            st.error(str(exc))
        else:
            st.session_state[REGISTERED] = version.as_dict()
    registered = st.session_state.get(REGISTERED)
    if registered:
        st.success(
            f"Registered **{registered['name']} v{registered['version']}** "
            f"(version id {registered['id']}) as a {registered['stage']} from run "
            f"#{registered['metrics'].get('run_id')}. Promote it on the Models page."
        )
