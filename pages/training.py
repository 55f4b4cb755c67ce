"""Training page: fit a classifier on the selected symbol, evaluate it, register it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.forms import cost_inputs, show_errors
from app.components.jobs import current_job, job_panel, run_id_of, submit_job
from app.components.training import (
    failed_field,
    registration_form,
    render_feature_catalogue,
    render_registered,
    render_training,
    show_failure,
    training_failure_hints,
)
from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import auth
from app.services import runs as run_store
from app.session import current_actor
from core.features import available_features

if TYPE_CHECKING:
    from app.services.jobs import JobView

RUN_ID, REGISTERED = "training.run_id", "training.registered"
D = {name: info.default for name, info in TrainRequest.model_fields.items()}
KINDS = {"logistic": "Logistic regression", "random_forest": "Random forest", "xgboost": "XGBoost"}
LABELS = ["sign", "triple_barrier"]
HELP = {
    "horizon": "Predict the direction of the next `horizon` bars.",
    "label": "sign: forward return > 0; triple_barrier: which of ±1 daily vol × √horizon "
    "barriers is touched first (time barrier at the horizon).",
    "n_trials": "Optuna trials when tuning is on.",
    "threshold": "Go long when the up-probability exceeds it (short below 1 − threshold).",
    "allow_lookahead": "The features are recomputed on truncated data first; a leaky one "
    "is refused.",
}

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

open_job = current_job("train")  # a failed job's error goes beside the field it is about
failed = failed_field(open_job, training_failure_hints(open_job.spec if open_job else {}))

with st.form("training.form"):
    v: dict[str, Any] = {"dataset": dataset, "symbol": symbol}
    c1, c2, c3, c4 = st.columns(4)
    kinds = list(KINDS)
    v["kind"] = c1.selectbox(
        "Model", kinds, kinds.index(D["kind"]), format_func=KINDS.__getitem__, key="training.kind"
    )
    v["horizon"] = c2.number_input(
        "Horizon (bars)", 1, 60, D["horizon"], key="training.horizon", help=HELP["horizon"]
    )
    v["label"] = c3.radio(
        "Label", LABELS, LABELS.index(D["label"]), horizontal=True, key="training.label",
        help=HELP["label"],
    )  # fmt: skip
    v["test_fraction"] = c4.slider(
        "Test fraction", 0.10, 0.50, D["test_fraction"], 0.05, key="training.test_fraction"
    )
    slots = {"horizon": c2.empty(), "test_fraction": c4.empty()}
    features = st.multiselect(
        f"Features ({len(names)} available for these columns)",
        names,
        default=names,
        key=f"training.features.{dataset}.{symbol}",
        help="All features computable from this dataset's columns are selected by default.",
    )
    slots["features"] = st.empty()
    render_feature_catalogue(names)
    t1, t2, t3, t4 = st.columns(4)
    v["tune"] = t1.toggle("Tune with Optuna", value=D["tune"], key="training.tune")
    v["n_trials"] = t2.number_input(
        "Trials", 1, 500, D["n_trials"], key="training.n_trials", help=HELP["n_trials"]
    )
    v["threshold"] = t3.number_input(
        "Threshold", 0.50, 0.99, D["threshold"], 0.01, key="training.threshold",
        help=HELP["threshold"],
    )  # fmt: skip
    v["seed"] = t4.number_input("Seed", 0, 2**31 - 1, D["seed"], key="training.seed")
    slots |= {"n_trials": t2.empty(), "threshold": t3.empty()}
    v["allow_short"] = st.checkbox(
        "Allow short positions", value=D["allow_short"], key="training.allow_short"
    )
    v["allow_lookahead"] = st.checkbox(
        "Train even if the look-ahead check flags a feature (results are flagged)",
        value=D["allow_lookahead"],
        key="training.allow_lookahead",
        help=HELP["allow_lookahead"],
    )
    with st.expander("Costs and fixed hyperparameters", expanded=failed == "params"):
        k1, k2, k3 = st.columns([1, 1, 2])
        v["fees"], v["slippage"] = cost_inputs(
            k1, k2, fees_key="training.fees", slippage_key="training.slippage"
        )
        params_text = k3.text_input(
            "Fixed hyperparameters (JSON)",
            value="",
            key="training.params",
            placeholder='e.g. {"max_depth": 3}',
            help="Kept as given; with tuning on, Optuna searches only the others.",
        )
        slots["params"] = st.empty()
    submitted = st.form_submit_button("Train", type="primary")
if failed is not None and open_job is not None and not submitted:
    show_failure(slots[failed], open_job)

if submitted:
    request = None
    try:
        params = json.loads(params_text) if params_text.strip() else {}
        if not isinstance(params, dict):
            raise TypeError
    except (ValueError, TypeError):
        slots["params"].error('Fixed hyperparameters must be a JSON object, e.g. {"max_depth": 3}.')
    else:
        if not features:
            slots["features"].error("Choose at least one feature.")
        else:
            try:
                request = TrainRequest(params=params, features=features, **v)
            except ValidationError as exc:
                for message in show_errors(exc, slots):
                    st.error(message)
    if request is not None:
        submit_job("train", request)


def _show(job: JobView) -> None:
    from app.services.training_reopen import reopen_training

    outcome = reopen_training(run_id_of(job))
    req = outcome.request
    st.subheader(f"Run #{outcome.run_id}: {req.kind} on {req.symbol}, h={req.horizon}")
    render_training(outcome)
    if st.session_state.get(RUN_ID) != outcome.run_id:  # the registration form's default
        st.session_state[RUN_ID], st.session_state[REGISTERED] = outcome.run_id, None


job_panel("train", on_done=_show)

st.divider()
st.subheader("Register a model")
saved = run_store.list_runs(kind="train", limit=100)
if not saved:
    st.info("Train a model first; every training run is saved and can be registered.")
    st.stop()
choice = registration_form(saved, st.session_state.get(RUN_ID))
if choice is not None:
    from app.services import registry

    try:
        version = registry.register(
            RegisterRequest(run_id=choice[0], name=choice[1]), actor=current_actor()
        )
    except (auth.PermissionDenied, LookupError, ValueError, RuntimeError) as exc:
        st.session_state[REGISTERED] = None
        st.error(str(exc))
    else:
        st.session_state[REGISTERED] = version.as_dict()
render_registered(st.session_state.get(REGISTERED))
