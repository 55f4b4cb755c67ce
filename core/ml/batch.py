"""Batch prediction: a fitted model's up-probability at every bar of a price history.

The features are those the model was trained on, computed by the training pipeline
(:func:`core.ml.dataset.feature_frame`), so the row of bar ``t`` uses bars ``<= t`` only
and truncating the history after ``t`` does not change the probability at ``t``. Bars
whose features are incomplete (the look-back warm-up) get no probability, as they had no
training row.

>>> import numpy as np, pandas as pd
>>> from core.ml.models import ModelSpec, fit_model
>>> idx = pd.bdate_range("2020-01-01", periods=80)
>>> close = pd.Series(100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 80))), idx)
>>> prices = pd.DataFrame({"close": close})
>>> X = feature_frame(prices, ["ret_1", "ret_5"]).dropna()
>>> model = fit_model(ModelSpec(kind="logistic"), X, (X["ret_5"] > 0).astype(int).to_numpy())
>>> proba = batch_probabilities(model, prices, ["ret_1", "ret_5"])
>>> bool(np.array_equal(proba.to_numpy(), model.predict_proba(X)[:, 1]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.ml.dataset import feature_frame


def model_features(model: Any, features: Sequence[str]) -> list[str]:
    """The stored feature list, checked against the names the model was fitted on.

    Raises ValueError when they differ (a registry entry whose artifact does not match
    its feature list), naming both.
    """
    names = [str(n) for n in getattr(model, "feature_names_in_", features)]
    if list(features) != names:
        raise ValueError(
            f"the model was fitted on features {names}, but its record lists {list(features)}"
        )
    return names


def batch_probabilities(
    model: Any,
    prices: pd.DataFrame,
    features: Sequence[str],
    *,
    start: pd.Timestamp | None = None,
    chunk_rows: int = 100_000,
) -> pd.Series:
    """Up-probability (class 1) at every bar with complete features.

    Parameters
    ----------
    model : Pipeline
        Fitted binary classifier (``predict_proba``), e.g. a registered version.
    prices : DataFrame
        Canonical price frame; the full history up to the last bar wanted (the warm-up
        before ``start`` feeds the look-back windows).
    features : sequence of str
        The model's feature names, in its column order (:func:`model_features`).
    start : Timestamp, optional
        First bar to score (earlier bars only feed the features).
    chunk_rows : int
        Rows scored per ``predict_proba`` call (bounds memory; same numbers).

    Returns
    -------
    Series
        float64 ``probability`` on the scored bars' index.
    """
    names = model_features(model, features)
    frame = feature_frame(prices, names)
    if start is not None:
        frame = frame.loc[frame.index >= start]
    rows = frame.loc[frame.notna().all(axis=1).to_numpy()]
    out = np.empty(len(rows), dtype=np.float64)
    for lo in range(0, len(rows), chunk_rows):
        out[lo : lo + chunk_rows] = model.predict_proba(rows.iloc[lo : lo + chunk_rows])[:, 1]
    return pd.Series(out, index=rows.index, name="probability")


__all__ = ["batch_probabilities", "model_features"]
