"""The regime history the Regimes page shows: its payload, fitted and stored, and the
stored default view (what ``workbench setup`` runs).

The payload is fitted by :func:`app.services.regime.fit_prices` and kept in the stored-fit
cache (:mod:`app.services.regime_store`) under :func:`app.services.regime_store.fit_key`.
"""

from __future__ import annotations

import time
import typing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from app.operations.regime import Method, RegimeFitRequest
from app.services import regime
from app.services.data import load_prices
from app.services.regime_store import fit_key, save_regimes, stored_regimes_exist
from core.regime import RegimeHistorySpec


def _payload(outcome: regime.RegimeOutcome) -> dict[str, object]:
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


def fit_and_store(
    prices: pd.DataFrame,
    key: str,
    *,
    method: Method = "hmm",
    seed: int = 0,
    history: RegimeHistorySpec | None = None,
    n_iter: int = regime.N_ITER,
) -> dict[str, object]:
    """Fit the regime history of ``prices`` (``n_iter`` EM iterations per restart), store
    it under ``key`` and return its payload.

    The payload holds the close, the filtered frame (:meth:`RegimeResult.to_frame`), the
    hindsight ``smoothed`` frame, the latest transition matrix and states, warnings,
    history description and mode, ``first_bar``, ``fitted_at`` (UTC), ``fit_seconds``
    and ``stored`` (False: fitted now). A failure to write the store is not an error.
    """
    start = time.perf_counter()
    outcome = regime.fit_prices(prices, method, seed, history or RegimeHistorySpec(), n_iter)
    payload: dict[str, Any] = _payload(outcome)
    payload["n_iter"] = n_iter
    payload["fitted_at"] = datetime.now(UTC)
    payload["fit_seconds"] = time.perf_counter() - start
    if key:
        try:
            save_regimes(key, payload)
        except OSError:
            pass
    payload["stored"] = False
    return payload


@dataclass(frozen=True)
class StoredView:
    """What :func:`store_view` did: ``fit_seconds`` is None when it was already stored;
    ``stored`` is False when the store could not be written."""

    dataset: str
    symbol: str
    key: str
    fit_seconds: float | None
    stored: bool


def store_view(view: RegimeFitRequest) -> StoredView:
    """Fit and store ``view`` (a dataset/symbol request) unless it is stored already.

    The prices and key are those the Regimes page computes for the same selection, so the
    page then reads this entry instead of fitting. Cheap when stored (a price load and
    a hash).
    """
    if view.dataset is None or view.symbol is None:
        raise ValueError("a stored view needs a dataset and a symbol")
    prices = load_prices(view.dataset, view.symbol, start=None, end=None)
    history = regime.history_spec(view.history, view.refit_every)
    key = fit_key(prices, view.symbol, view.method, view.seed, history)
    if stored_regimes_exist(key):
        return StoredView(view.dataset, view.symbol, key, None, True)
    payload = fit_and_store(prices, key, method=view.method, seed=view.seed, history=history)
    seconds = typing.cast(float, payload["fit_seconds"])
    return StoredView(view.dataset, view.symbol, key, seconds, stored_regimes_exist(key))


def store_default_view() -> StoredView:
    """:func:`store_view` of :data:`app.services.regime.DEFAULT_VIEW` (``workbench setup``)."""
    return store_view(regime.DEFAULT_VIEW)
