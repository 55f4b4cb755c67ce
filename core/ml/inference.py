"""Scoring one bar without pandas: the fast path of a live or replayed decision.

A fitted pipeline's ``predict_proba`` on a one-row DataFrame costs about a millisecond,
almost all of it in pandas and scikit-learn's input validation. :class:`OneBarPredictor`
takes the fitted pipeline apart once and scores a plain feature row:

* XGBoost: ``Booster.inplace_predict`` on a ``(1, n_features)`` float array (the call
  ``XGBClassifier.predict_proba`` makes, minus the DataFrame conversion);
* logistic regression behind an optional ``StandardScaler``: ``expit`` of the scaled row
  times the coefficients, scikit-learn's binary formula;
* anything else: the pipeline itself on a one-row DataFrame.

Probabilities equal the DataFrame path to floating-point rounding.

>>> import numpy as np, pandas as pd
>>> from core.ml.models import ModelSpec, fit_model
>>> X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
>>> model = fit_model(ModelSpec(kind="logistic"), X, np.array([0, 0, 1, 1]))
>>> fast = OneBarPredictor(model)
>>> bool(abs(fast(np.array([2.0, 1.0])) - model.predict_proba(X.iloc[[2]])[0, 1]) < 1e-12)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

Row = np.ndarray | Sequence[float] | Mapping[str, float]


def _scaler_arrays(steps: Sequence[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(mean, scale)`` of a lone fitted ``StandardScaler``, None without preprocessing;
    ``LookupError`` for any other preprocessing (the generic path handles it)."""
    from sklearn.preprocessing import StandardScaler

    if not steps:
        return None
    if len(steps) > 1 or type(steps[0]) is not StandardScaler:
        raise LookupError("not a lone StandardScaler")
    sc = steps[0]
    n = int(sc.n_features_in_)
    mean = np.asarray(sc.mean_, dtype=np.float64) if sc.mean_ is not None else np.zeros(n)
    scale = np.asarray(sc.scale_, dtype=np.float64) if sc.scale_ is not None else np.ones(n)
    return mean, scale


def _dense_predictor(
    booster: Any, n_features: int, window: tuple[int, int], missing: float
) -> tuple[Callable[[], float], np.ndarray] | None:
    """``(predict, buffer)``: ``predict()`` scores the row in ``buffer`` (shape
    ``(1, n_features)``) with one ``XGBoosterPredictFromDense`` call of XGBoost's C API.

    ``Booster.inplace_predict`` makes the same call, but rebuilds its JSON arguments,
    the array interface and ctypes types on every call (two thirds of its time for one
    row); here they are built once, for a buffer the row is copied into. None when this
    XGBoost's Python module lacks the pieces (then ``inplace_predict`` is used), or when
    a probe row does not score exactly as ``inplace_predict`` scores it.
    """
    import ctypes

    try:
        from xgboost import core as xgb_core

        lib = xgb_core._LIB
        call = lib.XGBoosterPredictFromDense
        buf = np.zeros((1, n_features), dtype=np.float64)
        iface = xgb_core.array_interface(buf)
        args = xgb_core.make_jcargs(
            type=0,
            training=False,
            iteration_begin=int(window[0]),
            iteration_end=int(window[1]),
            missing=missing,
            strict_shape=False,
            cache_id=0,
        )
        shape = ctypes.POINTER(xgb_core.c_bst_ulong)()
        dims = xgb_core.c_bst_ulong()
        preds = ctypes.POINTER(ctypes.c_float)()
        refs = (ctypes.byref(shape), ctypes.byref(dims), ctypes.byref(preds))
        handle, proxy = booster.handle, ctypes.c_void_p()
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other XGBoost
        return None

    def predict() -> float:
        if call(handle, iface, args, proxy, *refs) != 0:
            raise RuntimeError(lib.XGBGetLastError().decode())
        return float(preds[0])

    # keep the booster (and so its handle) alive as long as the closure
    predict.booster = booster  # type: ignore[attr-defined]
    probe = np.linspace(-1.0, 1.0, n_features).reshape(1, -1)
    buf[:] = probe
    expected = booster.inplace_predict(probe, iteration_range=window, missing=missing)
    if predict() != float(expected[0]):  # pragma: no cover - a changed C API
        return None
    return predict, buf


class OneBarPredictor:
    """Up-probability (class 1) of a fitted pipeline on one feature row.

    Parameters
    ----------
    model : Pipeline
        Fitted, as from :func:`core.ml.models.fit_model` or the registry's
        ``load_model``; binary with classes ``[0, 1]``. The predictor is a snapshot:
        build a new one after refitting. It reuses one input buffer: use one predictor
        per thread.

    Attributes
    ----------
    features : tuple of str
        Column order a row must follow (the pipeline's ``feature_names_in_``).
    path : str
        ``"xgboost"``, ``"logistic"`` or ``"pipeline"`` (the generic DataFrame path).
    """

    __slots__ = ("_score", "features", "model", "path")

    def __init__(self, model: Pipeline) -> None:
        self.model = model
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            raise ValueError("the pipeline was not fitted on a DataFrame: no feature names")
        self.features: tuple[str, ...] = tuple(str(n) for n in names)
        final = model.steps[-1][1]
        classes = getattr(final, "classes_", None)
        if classes is None or list(np.asarray(classes)) != [0, 1]:
            raise ValueError(
                f"expected a fitted binary classifier with classes [0, 1], got {classes}"
            )
        self.path = "pipeline"
        self._score: Callable[[np.ndarray], float] = self._pipeline
        try:
            scaler = _scaler_arrays([step for _, step in model.steps[:-1]])
        except LookupError:
            return
        kind = type(final).__name__
        if kind == "XGBClassifier":
            self._score, self.path = self._xgboost(final, scaler)
        elif kind == "LogisticRegression":
            self._score = self._logistic(final, scaler)
            self.path = "logistic"

    def _pipeline(self, row: np.ndarray) -> float:
        frame = pd.DataFrame(row.reshape(1, -1), columns=list(self.features))
        return float(self.model.predict_proba(frame)[0, 1])

    @staticmethod
    def _xgboost(
        est: Any, scaler: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[Callable[[np.ndarray], float], str]:
        booster = est.get_booster()
        best = getattr(est, "best_iteration", None)
        window = (0, int(best) + 1) if best is not None else (0, 0)
        missing = float(est.missing)
        n = booster.num_features()
        direct = _dense_predictor(booster, n, window, missing)
        if direct is not None:
            predict, buf = direct
            if scaler is None:

                def fast(row: np.ndarray) -> float:
                    buf[0] = row
                    return predict()

                return fast, "xgboost"
            mean, scale = scaler

            def fast_scaled(row: np.ndarray) -> float:
                np.subtract(row, mean, out=buf[0])
                buf[0] /= scale
                return predict()

            return fast_scaled, "xgboost"

        def score(row: np.ndarray) -> float:
            if scaler is not None:
                row = (row - scaler[0]) / scaler[1]
            out = booster.inplace_predict(
                row.reshape(1, -1), iteration_range=window, missing=missing, validate_features=False
            )
            return float(out[0])

        return score, "xgboost-inplace"

    @staticmethod
    def _logistic(
        est: Any, scaler: tuple[np.ndarray, np.ndarray] | None
    ) -> Callable[[np.ndarray], float]:
        coef = np.asarray(est.coef_, dtype=np.float64).reshape(-1)
        intercept = float(np.asarray(est.intercept_).reshape(-1)[0])
        if scaler is not None:  # scale first, then the dot product: sklearn's order
            mean, scale = scaler

            def score(row: np.ndarray) -> float:
                z = float(((row - mean) / scale) @ coef) + intercept
                return float(1.0 / (1.0 + np.exp(-z)))

            return score

        def plain(row: np.ndarray) -> float:
            z = float(row @ coef) + intercept
            return float(1.0 / (1.0 + np.exp(-z)))

        return plain

    def row(self, values: Row) -> np.ndarray:
        """``values`` as a float64 row in :attr:`features` order (a mapping by name)."""
        if isinstance(values, Mapping):
            return np.fromiter((values[f] for f in self.features), np.float64, len(self.features))
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
        if arr.size != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {arr.size}")
        return arr

    def __call__(self, values: Row) -> float:
        """Probability of class 1 for one row (array in :attr:`features` order, or a
        mapping from feature name to value)."""
        return self._score(self.row(values))


__all__ = ["OneBarPredictor", "Row"]
