"""Regimes page: probabilistic regime detection on the selected symbol."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import pandas as pd
import streamlit as st

from app import cached, state
from app.components.regime import regime_figure, render_current, transition_figure
from app.services.data import DataSourceError
from app.services.regime import DEFAULT_VIEW, MODES, N_ITER, N_ITER_RANGE, history_spec
from app.services.regime_store import fit_key, stored_regimes_exist
from app.services.regime_view import fit_and_store

st.title("Regimes")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
if symbol is None:
    st.info("Pick a dataset with symbols in the sidebar.")
    st.stop()
left, right = st.columns([2, 1])
method = left.radio(
    "Method",
    ["hmm", "dpgmm"],
    horizontal=True,
    key=state.REGIME_METHOD,
    format_func={"hmm": "Gaussian HMM (default)", "dpgmm": "Dirichlet-process GMM"}.get,
)
show_smoothed = right.toggle("Show hindsight (smoothed) probabilities", key="regime.smoothed")
m1, m2, m3 = st.columns([2, 1, 1])
mode = m1.radio(
    "History",
    list(MODES),
    index=MODES.index(DEFAULT_VIEW.history),
    horizontal=True,
    key="regime.mode",
    format_func={
        "expanding": "Causal, expanding refits (default)",
        "rolling": "Causal, rolling refits",
        "in-sample": "In-sample: whole-series fit (sees the future)",
    }.get,
    help="Causal: the probabilities of bar t use parameters estimated on earlier bars only.",
)
refit_every = int(
    m2.number_input(
        "Refit every (bars)",
        min_value=1,
        max_value=2520,
        value=DEFAULT_VIEW.refit_every,
        step=1,
        key="regime.refit_every",
        disabled=mode == "in-sample",
    )
)
n_iter = int(
    m3.number_input(
        "EM iterations",
        min_value=N_ITER_RANGE[0],
        max_value=N_ITER_RANGE[1],
        value=N_ITER,
        step=50,
        key="regime.n_iter",
        help=f"Iterations of expectation-maximization per restart of each full fit "
        f"({N_ITER_RANGE[0]:,}-{N_ITER_RANGE[1]:,}; {N_ITER} by default). Raise it when the "
        "page says the fit did not converge; more iterations take longer.",
    )
)
try:
    prices = cached.prices(dataset, symbol, None, None)
    history = history_spec(mode, refit_every)  # type: ignore[arg-type]
    seed = DEFAULT_VIEW.seed
    key = fit_key(prices, symbol, method, seed, history, n_iter)  # type: ignore[arg-type]
    if stored_regimes_exist(key):
        fitted = cached.regimes(dataset, symbol, method, seed, mode, refit_every, key)
    else:
        with st.spinner(
            f"Fitting the regime history of {symbol} ({history.describe().split(':')[0]}, "
            f"{len(prices):,} bars, {n_iter:,} EM iterations): the first fit of these prices "
            "and settings takes a few seconds; it is stored, so later visits show it at once."
        ):
            fitted = fit_and_store(
                prices,
                key,
                method=method,  # type: ignore[arg-type]
                seed=seed,
                history=history,
                n_iter=n_iter,
            )
except (ValueError, DataSourceError) as exc:
    st.error(str(exc))
    st.stop()
fitted_at = cast(datetime, fitted["fitted_at"]).astimezone()
st.caption(
    f"{'Stored fit' if fitted['stored'] else 'Fitted'} {fitted_at:%Y-%m-%d %H:%M %Z} in "
    f"{cast(float, fitted['fit_seconds']):.1f} s with {n_iter:,} EM iterations per restart, "
    "on these exact prices and settings "
    "(seeded: a refit gives the same result; new prices or settings fit again)."
)
frame: pd.DataFrame = fitted["frame"]  # type: ignore[assignment]
if fitted["history_mode"] == "in-sample":
    st.warning(
        f"History: {fitted['history']}. Every bar was scored by a model fitted on the whole "
        "series, later bars included; use a causal mode for anything tradable."
    )
else:
    st.info(
        f"History: {fitted['history']}. The first {fitted['first_bar']} bars (the first "
        "fit) have no probabilities."
    )
for warning in cast(list[str], fitted["warnings"]):
    if "EM iterations" in warning:
        warning += f" (the EM iterations control above, now {n_iter:,})"
    st.warning(warning)
render_current(
    str(frame["label"].iloc[-1]),
    float(frame["confidence"].iloc[-1]),
    frame.index[-1],
    float(frame["entropy"].iloc[-1]),
)
smoothed = fitted["smoothed"] if show_smoothed else None
st.plotly_chart(
    regime_figure(fitted["close"], frame, smoothed),
    width="stretch",  # type: ignore[arg-type]
    key="regime.chart",
)
c1, c2 = st.columns([1, 1])
with c1:
    st.markdown(
        "**Fitted transition matrix** (latest fit; probability of moving from row to column "
        "per bar)"
    )
    st.plotly_chart(
        transition_figure(fitted["transition"]),
        width="stretch",  # type: ignore[arg-type]
        key="regime.transition",
    )
with c2:
    st.markdown("**Time in each regime** (filtered labels)")
    share = frame["label"].value_counts(normalize=True).rename("share").to_frame()
    share["bars"] = frame["label"].value_counts()
    st.dataframe(share.style.format({"share": "{:.1%}"}), width="stretch")
    st.caption(
        "Labels come from each state's volatility and mean return: the most volatile state is "
        "'volatile', the next 'bear'; among calm states the highest mean is 'bull'. Strategies "
        "use only the filtered probabilities; the smoothed view looks ahead and is for analysis."
    )
st.download_button(
    "Download filtered probabilities (CSV)",
    lambda: frame.to_csv().encode(),  # written on the click, not on every run
    file_name=f"regimes_{dataset}_{symbol}_{method}_{mode}.csv",
    mime="text/csv",
)
