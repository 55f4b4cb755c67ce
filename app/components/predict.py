"""Batch prediction as a job (``predict``): a registered model's probability of an up move
for every bar of the chosen symbols, summarized per symbol and downloadable as CSV."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from app.components.jobs import job_panel, run_id_of, submit_job
from app.operations.predict import PredictRequest

if TYPE_CHECKING:
    from app.services.jobs import JobView

KIND = "predict"


def per_symbol_table(summary: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per symbol: bars scored, first and last bar, mean and latest probability."""
    rows = [{"symbol": symbol, **values} for symbol, values in summary.items()]
    return pd.DataFrame(
        rows,
        columns=["symbol", "rows", "first", "last", "mean_probability", "last_probability"],
    )


def _show(job: JobView) -> None:
    from app.services.predict import reopen_predictions

    outcome = reopen_predictions(run_id_of(job))
    m = outcome.model
    st.markdown(
        f"**Run #{outcome.run_id}**: {m['name']} v{m['version']} ({m['kind']}, version id "
        f"{m['id']}), {len(outcome.frame):,} rows"
    )
    st.dataframe(
        per_symbol_table(outcome.per_symbol()),
        width="stretch",
        hide_index=True,
        key="predict.summary",
    )
    st.download_button(
        "Download probabilities (CSV)",
        lambda: outcome.frame.to_csv(index=False).encode(),  # on click, not every run
        file_name=f"predictions_{outcome.run_id}.csv",
        mime="text/csv",
        key="predict.download",
    )
    st.caption(
        "Each bar's probability uses the model's own features computed on bars up to that "
        "bar only; `after_train_end` marks bars the model never saw in training."
    )


def render_predict(
    versions: Sequence[Any], dataset: str, symbols: list[str], label: Callable[[int], str]
) -> None:
    """The form (registered version, symbols or all of them), then the open job."""
    with st.form("predict.form"):
        version = st.selectbox(
            "Registered model", [v.id for v in versions], format_func=label, key="predict.model"
        )
        c1, c2 = st.columns([3, 1])
        picks = c1.multiselect(
            "Symbols", symbols, default=symbols[:1], key=f"predict.symbols.{dataset}"
        )
        every = c2.checkbox(f"All {len(symbols)} symbols", key="predict.all")
        go_predict = st.form_submit_button("Score the bars")
    if go_predict:
        try:
            request = PredictRequest(
                model=int(version),
                dataset=dataset,
                symbols=[] if every else picks,
                all_symbols=every,
            )
        except (ValidationError, ValueError) as exc:
            errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
            for error in errors:
                st.error(str(error["msg"]).removeprefix("Value error, "))
        else:
            submit_job(KIND, request)
    job_panel(KIND, on_done=_show)
