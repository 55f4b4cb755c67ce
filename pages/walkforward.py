"""Walk-forward page: rolling or anchored out-of-sample validation, DSR, PBO, look-ahead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st
from pydantic import ValidationError

from app import cached, state
from app.components.forms import cost_inputs, grid_axis_inputs, numeric_fields, show_errors
from app.components.jobs import current_job, job_panel, run_id_of, submit_job
from app.components.training import failed_field, show_failure
from app.components.walkforward import (
    LABELS,
    failure_hints,
    fold_inputs,
    lookahead_inputs,
    model_inputs,
    render_lookahead,
    render_run,
)
from app.operations.walkforward import LookaheadRequest, WalkForwardRequest
from app.services.data import DataSourceError
from core.features import available_features
from core.strategies import STRATEGIES
from core.sweep import METRICS

if TYPE_CHECKING:
    from app.services.jobs import JobView

REPORT = "wf.lookahead"

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

open_job = current_job("walkforward")  # a failed job's error goes beside its field
failed = failed_field(open_job, failure_hints(open_job.spec if open_job else {}))
with st.form("wf.form"):
    st.markdown("**Folds**")
    fields, slots = fold_inputs()
    kind_fields: dict[str, Any]
    axis_errors: list[str] = []
    if strategy is not None:
        st.markdown("**Grid** (inclusive ranges; tick the parameters to search in each fold)")
        model = STRATEGIES[strategy].params_model
        axes, axis_errors = grid_axis_inputs(model, key=f"wf.{strategy}", coarse_int_steps=True)
        default_metric = WalkForwardRequest.model_fields["metric"].default
        metric = st.selectbox(
            "Pick each fold's configuration by (in sample)",
            METRICS,
            index=METRICS.index(default_metric),
            key="wf.metric",
        )
        kind_fields = {"strategy": strategy, "grid": axes, "metric": metric}
    else:
        st.markdown("**Model**")
        names = available_features(prices.columns)
        kind_fields, slots["features"] = model_inputs(names, key=f"wf.features.{dataset}.{symbol}")
    c1, c2 = st.columns(2)
    fees, slip = cost_inputs(c1, c2, fees_key="wf.fees", slippage_key="wf.slippage")
    submitted = st.form_submit_button("Run walk-forward", type="primary")
if failed in slots and open_job is not None and not submitted:
    show_failure(slots[failed], open_job)


def _show(exc: ValidationError) -> None:
    for message in show_errors(exc, slots, labels=LABELS):
        st.error(message)


if submitted:
    request = None
    if axis_errors:
        for message in axis_errors:
            st.error(message)
    elif strategy is None and not kind_fields["features"]:
        slots["features"].error("Choose at least one feature.")
    else:
        try:
            request = WalkForwardRequest(
                dataset=dataset,
                symbol=symbol,
                fees=fees,
                slippage=slip,
                **fields,
                **kind_fields,
            )
        except ValidationError as exc:
            _show(exc)
    if request is not None:  # the fold layout is checked here, before queueing the job
        from core.walkforward.folds import WalkForwardSpec, fold_windows

        layout = {k: getattr(request, k) for k in ("mode", "train_bars", "test_bars", "step_bars")}
        try:
            fold_windows(len(prices), WalkForwardSpec(**layout, folds=request.folds))
        except ValueError as exc:
            st.error(str(exc))
        else:
            submit_job("walkforward", request)


def _show_run(job: JobView) -> None:
    from app.services import walkforward as wf
    from app.services.walkforward_reopen import reopen_walkforward

    outcome = reopen_walkforward(run_id_of(job))
    render_run(outcome, wf.report_html(outcome))


job_panel("walkforward", on_done=_show_run)

st.divider()
# keyed and tracked: the expander stays as the user left it across reruns (a radio inside)
with st.expander("Look-ahead check", key="wf.la.open", on_change="rerun"):
    st.caption(
        "Recomputes the signal or features on data truncated at random bars and flags any "
        "value that changes once later bars are added (it must not, for a causal signal)."
    )
    la_strategy, leaky, subject = lookahead_inputs(sorted(STRATEGIES), symbol)
    if st.button("Run look-ahead check", key="wf.la.run"):
        from app.services import walkforward as wf

        try:
            with st.spinner("Recomputing on truncated data…"):
                report = wf.lookahead(
                    LookaheadRequest(
                        dataset=dataset,
                        symbol=symbol,
                        strategy=la_strategy,
                        include_leaky_demo=leaky,
                    )
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
