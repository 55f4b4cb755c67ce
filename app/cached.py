"""The only ``st.cache_data`` / ``st.cache_resource`` wrappers; keyed on primitives."""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from app.services import data as data_service

if TYPE_CHECKING:
    import plotly.graph_objects as go


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


@st.cache_resource(show_spinner=False, max_entries=16)
def price_figure(
    dataset: str, symbol: str, start: date | None, end: date | None, title: str, log_scale: bool
) -> go.Figure:
    """The Data page's chart of :func:`prices`, built once per range and scale (20-30 ms
    of every rerun otherwise). Shared, not copied: draw it, never change it."""
    from app.components.charts import price_figure as build

    return build(prices(dataset, symbol, start, end), title=title, log_scale=log_scale)


@st.cache_resource(show_spinner=False)
def engine_warmup() -> threading.Thread | None:
    """Start the engine warm-up once per server (see :mod:`app.warmup`).

    ``workbench setup`` already compiled numba's on-disk cache; this moves the import of
    vectorbt and the cache load off the first backtest, without slowing any page: each
    step waits until no script run has been in progress for a second.
    """
    from app import warmup

    return warmup.start()


@st.cache_resource(show_spinner=False, ttl=60)
def jobs_worker() -> bool:
    """Start a ``workbench jobs worker`` when none is alive (checked at most once a minute).

    The server's first run starts one, so ``make run`` needs no extra command; a worker
    that died is replaced on a later check. Does nothing with WORKBENCH_JOBS_AUTOSTART=0
    (the page tests drive the queue themselves). Returns whether one was started.
    """
    from app.services import jobs

    return jobs.ensure_worker()


@st.cache_resource(show_spinner=False, ttl=60)
def alerts_watchdog() -> bool:
    """Start ``workbench alerts watch`` (heartbeat and stale-data alerts from outside the
    paper workers) when none is alive, checked at most once a minute; off with
    WORKBENCH_JOBS_AUTOSTART=0 or WORKBENCH_WATCHDOG_AUTOSTART=0. Whether one was started."""
    from app.services import watchdog

    return watchdog.ensure_watchdog()


def clear_data() -> None:
    """Forget cached data (after an import)."""
    dataset_infos.clear()
    symbols.clear()
    prices.clear()
    price_figure.clear()


@st.cache_data(show_spinner=False, max_entries=32)
def regimes(
    dataset: str,
    symbol: str,
    method: str,
    seed: int = 0,
    mode: str = "expanding",
    refit_every: int = 21,
    key: str = "",
) -> dict[str, object]:
    """Regime history as plain frames (filtered, smoothed, transition, warnings, history).

    ``key`` is :func:`app.services.regime_store.fit_key` of the prices and parameters: the
    result stored under it (by any process) is read back, else the history is fitted
    and stored (see :mod:`app.services.regime_store`).
    """
    from app.services import regime as regime_service
    from app.services.regime_store import stored_regimes
    from app.services.regime_view import fit_and_store

    history = regime_service.history_spec(mode, refit_every)  # type: ignore[arg-type]
    stored = stored_regimes(key) if key else None
    if stored is not None:
        return stored
    return fit_and_store(
        prices(dataset, symbol, None, None),
        key,
        method=method,  # type: ignore[arg-type]
        seed=seed,
        history=history,
    )
