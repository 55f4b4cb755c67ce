"""Batch prediction: a fitted model's up-probability at every bar of a price history.

The features are those the model was trained on, computed by the training pipeline
(:func:`core.ml.dataset.feature_frame`), so the row of bar ``t`` uses bars ``<= t`` only
and truncating the history after ``t`` does not change the probability at ``t``. Bars
whose features are incomplete (the look-back warm-up) get no probability, as they had no
training row.

An XGBoost pipeline without preprocessing is scored by :func:`probability_scorer`:
``Booster.inplace_predict`` on a float32 array, the call ``XGBClassifier.predict_proba``
ends in (XGBoost compares float32 values with its float32 split conditions), minus the
DataFrame conversion; same numbers. Other models go through ``predict_proba``.

Threads: by default the classifier's ``n_jobs`` when it is set, else one thread. The
registry stores an XGBoost model in XGBoost's own format, which keeps no thread setting:
a loaded model has ``n_jobs=None``, i.e. every core, and OpenMP waits for its slowest
thread, so with the other core busy its scoring is several times slower than on one
thread (measured 42 ms vs 10 ms for 4,748 rows at load 5.4; two threads are ~1.5x faster
only on an idle 2-core machine). ``threads=`` sets it (``workbench bench``'s ``predict``
section measures one and two threads).

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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.ml.dataset import feature_frame

Scorer = Callable[[pd.DataFrame], np.ndarray]
"""Feature rows (the model's columns, complete) -> float64 up-probabilities."""


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


def probability_scorer(model: Any, *, threads: int | None = None) -> Scorer:
    """A function scoring feature rows as ``model.predict_proba(rows)[:, 1]`` does.

    A pipeline whose only step is an ``XGBClassifier`` is scored by its booster with
    ``inplace_predict`` on the rows as float32, by a copy of the booster with
    ``nthread=threads`` (None: the classifier's ``n_jobs`` when set, else 1) unless the
    booster already has that setting; the model itself is left as it was. Any other
    model is scored by its ``predict_proba``.
    """
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    if type(final).__name__ != "XGBClassifier" or len(getattr(model, "steps", [None])) != 1:
        return lambda rows: np.asarray(model.predict_proba(rows)[:, 1], dtype=np.float64)
    booster = final.get_booster()
    if threads is None:
        n_jobs = final.get_params().get("n_jobs")
        threads = int(n_jobs) if isinstance(n_jobs, int) and n_jobs > 0 else 1
    if _booster_threads(booster) != threads:
        booster = booster.copy()
        booster.set_param({"nthread": int(threads)})
    best = getattr(final, "best_iteration", None)
    window = (0, int(best) + 1) if best is not None else (0, 0)
    missing = float(final.missing)

    def score(rows: pd.DataFrame) -> np.ndarray:
        values = np.ascontiguousarray(rows.to_numpy(dtype=np.float32))
        out = booster.inplace_predict(
            values, iteration_range=window, missing=missing, validate_features=False
        )
        return np.asarray(out, dtype=np.float64).reshape(-1)

    return score


def _booster_threads(booster: Any) -> int:
    """The booster's ``nthread`` (0: every core)."""
    import json

    config = json.loads(booster.save_config())
    return int(config["learner"]["generic_param"].get("nthread", 0))


def batch_probabilities(
    model: Any,
    prices: pd.DataFrame,
    features: Sequence[str],
    *,
    start: pd.Timestamp | None = None,
    chunk_rows: int = 100_000,
    scorer: Scorer | None = None,
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
        Rows scored per call (bounds memory; same numbers).
    scorer : callable, optional
        :func:`probability_scorer` of ``model``, built once for many calls (made here
        when not given).

    Returns
    -------
    Series
        float64 ``probability`` on the scored bars' index.
    """
    names = model_features(model, features)
    score = scorer or probability_scorer(model)
    frame = feature_frame(prices, names)
    if start is not None:
        frame = frame.loc[frame.index >= start]
    complete = ~np.isnan(frame.to_numpy(dtype=np.float64)).any(axis=1)  # float64 notna
    rows = frame.loc[complete]
    out = np.empty(len(rows), dtype=np.float64)
    if 0 < len(rows) <= chunk_rows:
        out[:] = score(rows)  # one chunk: no slice
    else:
        for lo in range(0, len(rows), chunk_rows):
            out[lo : lo + chunk_rows] = score(rows.iloc[lo : lo + chunk_rows])
    return pd.Series(out, index=rows.index, name="probability")


__all__ = [
    "Scorer",
    "batch_probabilities",
    "model_features",
    "probability_scorer",
]
