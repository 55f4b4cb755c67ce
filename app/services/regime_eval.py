"""Regime scoring and filtered probabilities: the detector against the oracle on synthetic
data, and label probabilities without a history (re-exported by :mod:`app.services.regime`)."""

from __future__ import annotations

import pandas as pd

from app.operations.regime import Method
from core.regime import LABELS, RegimeHistorySpec, RegimeSpec, causal_regimes, evaluate_synthetic
from core.serialize import json_safe


def evaluate(
    *,
    seed: int,
    method: Method = "hmm",
    bars: int = 5000,
    history: RegimeHistorySpec | None = None,
) -> dict[str, object]:
    """Detector vs the Bayes-optimal oracle on a synthetic series (JSON-safe).

    Causal by default; ``RegimeHistorySpec(mode="in-sample")`` scores the whole-series fit.
    """
    history = history or RegimeHistorySpec()
    raw = evaluate_synthetic(
        seed=seed, method=method, bars=bars, history=history if history.causal else None
    )
    raw["history_mode"] = history.mode
    return json_safe(raw)


def filtered_probabilities(
    prices: pd.DataFrame, *, method: Method = "hmm", seed: int = 0
) -> pd.DataFrame:
    """Causal forward-filtered label probabilities for ``prices`` (columns ``LABELS``)."""
    return causal_regimes(prices, RegimeSpec(method=method, seed=seed)).filtered[list(LABELS)]
