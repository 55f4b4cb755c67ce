"""Regime services: fit on a dataset or file, evaluate on synthetic data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from app.services.data import load_prices, validate_file
from core.regime import LABELS, RegimeResult, RegimeSpec, evaluate_synthetic, fit_regimes
from core.serialize import json_safe

Method = Literal["hmm", "dpgmm"]


@dataclass(frozen=True)
class RegimeOutcome:
    """A fitted regime model with the prices it was fitted on."""

    prices: pd.DataFrame
    result: RegimeResult

    @property
    def current(self) -> tuple[str, float, pd.Timestamp]:
        """The latest bar's filtered label, its confidence, and its date."""
        return (
            str(self.result.label.iloc[-1]),
            float(self.result.confidence.iloc[-1]),
            self.result.label.index[-1],
        )


def fit_dataset(
    dataset: str, symbol: str, *, method: Method = "hmm", seed: int = 0
) -> RegimeOutcome:
    """Fit regimes on ``dataset/symbol``."""
    prices = load_prices(dataset, symbol)
    return RegimeOutcome(prices, fit_regimes(prices, RegimeSpec(method=method, seed=seed)))


def fit_file(path: Path, *, method: Method = "hmm", seed: int = 0) -> RegimeOutcome:
    """Validate a CSV/Parquet file (date and close suffice) and fit regimes on it."""
    prices = validate_file(path.name, path.read_bytes()).frame
    return RegimeOutcome(prices, fit_regimes(prices, RegimeSpec(method=method, seed=seed)))


def filtered_frame(outcome: RegimeOutcome) -> pd.DataFrame:
    """Per bar: filtered P(label), entropy, confidence and label (what strategies may use)."""
    return outcome.result.to_frame()


def evaluate(*, seed: int, method: Method = "hmm", bars: int = 5000) -> dict[str, object]:
    """Detector vs the Bayes-optimal oracle on a synthetic series (JSON-safe)."""
    raw = evaluate_synthetic(seed=seed, method=method, bars=bars)
    return json_safe(raw)


def filtered_probabilities(
    prices: pd.DataFrame, *, method: Method = "hmm", seed: int = 0
) -> pd.DataFrame:
    """Forward-filtered label probabilities for ``prices`` (columns ``LABELS``)."""
    return fit_regimes(prices, RegimeSpec(method=method, seed=seed)).filtered[list(LABELS)]
