"""The only ``st.cache_data`` / ``st.cache_resource`` wrappers; keyed on primitives."""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
import streamlit as st

from app.services import data as data_service


@st.cache_data(show_spinner=False, ttl=600)
def dataset_infos() -> list[dict[str, object]]:
    """All offline datasets as plain dicts."""
    return [info.as_dict() for info in data_service.list_datasets()]


@st.cache_data(show_spinner=False, ttl=600)
def symbols(dataset: str) -> list[str]:
    """Symbols of one dataset."""
    return data_service.symbols_of(dataset)


@st.cache_data(show_spinner="Loading prices…", max_entries=64)
def prices(dataset: str, symbol: str, start: date | None, end: date | None) -> pd.DataFrame:
    """Canonical price frame, clipped to dates."""
    return data_service.load_prices(dataset, symbol, start=start, end=end)


@st.cache_resource(show_spinner=False)
def engine_warmup() -> threading.Thread | None:
    """Start the engine warm-up once per server (see :mod:`app.warmup`).

    ``workbench setup`` already compiled numba's on-disk cache; this moves the import of
    vectorbt and the cache load off the first backtest, without slowing any page: each
    step waits until no script run has been in progress for a second.
    """
    from app import warmup

    return warmup.start()


def clear_data() -> None:
    """Forget cached data (after an import)."""
    dataset_infos.clear()
    symbols.clear()
    prices.clear()


@st.cache_data(show_spinner="Fitting regimes…", max_entries=32)
def regimes(
    dataset: str,
    symbol: str,
    method: str,
    seed: int = 0,
    mode: str = "expanding",
    refit_every: int = 21,
) -> dict[str, object]:
    """Regime history as plain frames (filtered, smoothed, transition, warnings, history)."""
    from app.services import regime as regime_service

    history = regime_service.history_spec(mode, refit_every)  # type: ignore[arg-type]
    outcome = regime_service.fit_dataset(
        dataset,
        symbol,
        method=method,  # type: ignore[arg-type]
        seed=seed,
        history=history,
    )
    result = outcome.result
    return {
        "history": result.history,
        "history_mode": result.history_mode,
        "first_bar": result.first_bar,
        "close": outcome.prices["close"],
        "frame": result.to_frame(),
        "smoothed": result.smoothed,
        "transition": result.transition,
        "warnings": list(result.warnings),
        "method": result.method,
        "states": getattr(result, "states", None),
    }
