"""Regime services: fit on a dataset or file, evaluate on synthetic data.

The per-bar history is causal by default (expanding refits every 21 bars, see
:class:`core.regime.RegimeHistorySpec`); ``mode="in-sample"`` is the whole-series fit,
which sees the future and is labelled so wherever it is shown.

A fitted history is stored on disk by :mod:`app.services.regime_store` (the stored-fit
cache) and shown by the Regimes page from :mod:`app.services.regime_view` (its payload).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from app import defaults
from app.operations.regime import Method, Mode, RegimeEvalRequest, RegimeFitRequest
from app.services.data import load_prices, validate_file
from app.services.regime_eval import evaluate
from app.services.regime_eval import filtered_probabilities as filtered_probabilities
from core.regime import RegimeHistorySpec, RegimeResult, RegimeSpec, causal_regimes

MODES: tuple[str, ...] = typing.get_args(Mode)
N_ITER = int(RegimeSpec.model_fields["n_iter"].default)
"""EM iterations per restart of a fit unless asked otherwise (the model's default)."""
N_ITER_RANGE = (10, 5_000)
"""The EM iterations the Regimes page offers (the model accepts 1-10,000; fewer than 10
cannot converge, more than 5,000 only slow the page)."""
#: The Regimes page's default view: the app's default dataset, symbol and method, and the
#: request's defaults for the seed, history mode and cadence (the page's widgets start
#: there; ``workbench setup`` stores this fit,
#: :func:`app.services.regime_view.store_default_view`).
DEFAULT_VIEW = RegimeFitRequest(
    dataset=defaults.DATASET, symbol=defaults.SYMBOL, method=defaults.REGIME_METHOD
)


@dataclass(frozen=True)
class RegimeOutcome:
    """A fitted regime model with the prices it was fitted on."""

    prices: pd.DataFrame
    result: RegimeResult
    history: RegimeHistorySpec | None = None

    @property
    def current(self) -> tuple[str, float, pd.Timestamp]:
        """The latest bar's filtered label, its confidence, and its date."""
        return (
            str(self.result.label.iloc[-1]),
            float(self.result.confidence.iloc[-1]),
            self.result.label.index[-1],
        )


def history_spec(mode: Mode = "expanding", refit_every: int = 21) -> RegimeHistorySpec:
    """The history spec of a mode and cadence (raises ValueError on a bad value)."""
    return RegimeHistorySpec(mode=mode, refit_every=refit_every)


def fit_prices(
    prices: pd.DataFrame,
    method: Method,
    seed: int,
    history: RegimeHistorySpec,
    n_iter: int = N_ITER,
) -> RegimeOutcome:
    """Regime history of ``prices`` (every fit of this module and of the view goes here);
    ``n_iter``: EM iterations per restart of each full fit."""
    result = causal_regimes(prices, RegimeSpec(method=method, seed=seed, n_iter=n_iter), history)
    return RegimeOutcome(prices, result, history)


def fit_dataset(
    dataset: str,
    symbol: str,
    *,
    method: Method = "hmm",
    seed: int = 0,
    history: RegimeHistorySpec | None = None,
    n_iter: int = N_ITER,
) -> RegimeOutcome:
    """Regime history of ``dataset/symbol`` (causal unless ``history`` says in-sample)."""
    prices = load_prices(dataset, symbol)
    return fit_prices(prices, method, seed, history or RegimeHistorySpec(), n_iter)


def fit_file(
    path: Path,
    *,
    method: Method = "hmm",
    seed: int = 0,
    history: RegimeHistorySpec | None = None,
    n_iter: int = N_ITER,
) -> RegimeOutcome:
    """Validate a CSV/Parquet file (date and close suffice) and build its regime history."""
    prices = validate_file(path.name, path.read_bytes()).frame
    return fit_prices(prices, method, seed, history or RegimeHistorySpec(), n_iter)


def run_fit(request: RegimeFitRequest) -> RegimeOutcome:
    """The regime history a :class:`RegimeFitRequest` asks for."""
    history = history_spec(request.history, request.refit_every)
    if request.file is not None:
        return fit_file(
            request.file,
            method=request.method,
            seed=request.seed,
            history=history,
            n_iter=request.n_iter,
        )
    if request.dataset is None or request.symbol is None:
        raise ValueError("give either a file or both a dataset and a symbol")
    return fit_dataset(
        request.dataset,
        request.symbol,
        method=request.method,
        seed=request.seed,
        history=history,
        n_iter=request.n_iter,
    )


def run_eval(request: RegimeEvalRequest) -> dict[str, object]:
    """The synthetic evaluation a :class:`RegimeEvalRequest` asks for."""
    history = history_spec(request.history, request.refit_every)
    report = evaluate(seed=request.seed, method=request.method, bars=request.bars, history=history)
    return {"method": request.method, "seed": request.seed, "bars": request.bars, **report}


def filtered_frame(outcome: RegimeOutcome) -> pd.DataFrame:
    """Per bar: filtered P(label), entropy, confidence and label (what strategies may use)."""
    return outcome.result.to_frame()
