"""Regimes page: probabilistic regime detection on the selected symbol."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import cached, state
from app.components.regimes import regime_figure, render_current, transition_figure
from app.services.data import DataSourceError

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
try:
    fitted = cached.regimes(dataset, symbol, method)
except (ValueError, DataSourceError) as exc:
    st.error(str(exc))
    st.stop()
frame: pd.DataFrame = fitted["frame"]  # type: ignore[assignment]
for warning in fitted["warnings"]:  # type: ignore[union-attr]
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
    st.markdown("**Fitted transition matrix** (probability of moving from row to column per bar)")
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
    frame.to_csv().encode(),
    file_name=f"regimes_{dataset}_{symbol}_{method}.csv",
    mime="text/csv",
)
