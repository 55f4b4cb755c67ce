"""Model specifications and seeded scikit-learn pipelines.

>>> spec = ModelSpec(kind="logistic", params={"C": 0.5})
>>> [name for name, _ in build_model(spec).steps]
['scale', 'model']
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

ModelKind = Literal["logistic", "random_forest", "xgboost"]
MODEL_KINDS: tuple[str, ...] = ("logistic", "random_forest", "xgboost")

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "logistic": {"C": 1.0, "max_iter": 1000},
    "random_forest": {"n_estimators": 200, "max_depth": 6, "min_samples_leaf": 20, "n_jobs": 1},
    "xgboost": {
        "n_estimators": 200,
        "max_depth": 3,
        "learning_rate": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 5.0,
        "reg_lambda": 1.0,
        "tree_method": "hist",
        "n_jobs": 1,
    },
}
"""Defaults merged under :attr:`ModelSpec.params` (single-threaded for shared CPUs)."""

_RESERVED = {"random_state", "seed", "class_weight", "scale_pos_weight"}


def _estimator_class(kind: str) -> type[BaseEstimator]:
    # scikit-learn has no annotations: its classes are Any to mypy
    if kind == "logistic":
        return cast("type[BaseEstimator]", LogisticRegression)
    if kind == "random_forest":
        return cast("type[BaseEstimator]", RandomForestClassifier)
    from xgboost import XGBClassifier

    return XGBClassifier


class ModelSpec(BaseModel):
    """What to train: model kind, hyper-parameters and seed (frozen).

    ``params`` override :data:`DEFAULT_PARAMS`; seeding and class balancing are set by
    :func:`build_model` and may not be passed here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ModelKind
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _known_params(self) -> ModelSpec:
        reserved = sorted(set(self.params) & _RESERVED)
        if reserved:
            raise ValueError(
                f"params {reserved} are set automatically (seed, class balance); remove them"
            )
        allowed = set(_estimator_class(self.kind)().get_params())
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            raise ValueError(f"{self.kind} has no parameters {unknown}; valid: {sorted(allowed)}")
        return self

    def resolved_params(self) -> dict[str, Any]:
        """Defaults overlaid with ``params``."""
        return {**DEFAULT_PARAMS[self.kind], **self.params}


def scale_pos_weight(y: np.ndarray | pd.Series) -> float:
    """Negatives over positives: XGBoost's weight that balances the two classes.

    >>> scale_pos_weight(np.array([0, 0, 0, 1]))
    3.0
    """
    y = np.asarray(y)
    pos = int((y == 1).sum())
    neg = int((y == 0).sum())
    return float(neg / pos) if pos and neg else 1.0


def build_model(spec: ModelSpec, y_train: np.ndarray | pd.Series | None = None) -> Pipeline:
    """An unfitted, seeded pipeline for ``spec``.

    Logistic regression gets a ``StandardScaler`` and ``class_weight="balanced"``; the
    random forest ``class_weight="balanced"``; XGBoost ``scale_pos_weight`` computed from
    ``y_train`` (1.0 when it is None). Steps are named ``scale`` (logistic only) and
    ``model``.
    """
    params = spec.resolved_params()
    if spec.kind == "logistic":
        est = LogisticRegression(random_state=spec.seed, class_weight="balanced", **params)
        return Pipeline([("scale", StandardScaler()), ("model", est)])
    if spec.kind == "random_forest":
        est = RandomForestClassifier(random_state=spec.seed, class_weight="balanced", **params)
        return Pipeline([("model", est)])
    from xgboost import XGBClassifier

    spw = scale_pos_weight(y_train) if y_train is not None else 1.0
    params = {"eval_metric": "logloss", **params}
    est = XGBClassifier(random_state=spec.seed, scale_pos_weight=spw, **params)
    return Pipeline([("model", est)])


def fit_model(spec: ModelSpec, X: pd.DataFrame, y: pd.Series | np.ndarray) -> Pipeline:
    """Build the pipeline for ``spec`` with class weights from ``y`` and fit it."""
    y = np.asarray(y)
    if np.unique(y).size < 2:
        raise ValueError("training labels contain a single class; use more or other data")
    return build_model(spec, y).fit(X, y)


def predict_proba(model: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """Probability of class 1 for each row."""
    proba: np.ndarray = model.predict_proba(X)[:, 1]
    return proba


def search_space(kind: str, trial: Any) -> dict[str, Any]:
    """Optuna search space of ``kind``: ``trial.suggest_*`` calls -> params dict."""
    if kind == "logistic":
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}
    if kind == "random_forest":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 50, 300, step=50),
            "max_depth": trial.suggest_int("max_depth", 2, 10),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True),
            "max_features": trial.suggest_float("max_features", 0.2, 1.0),
        }
    if kind == "xgboost":
        return {
            "n_estimators": trial.suggest_int("n_estimators", 50, 400, step=50),
            "max_depth": trial.suggest_int("max_depth", 2, 6),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
        }
    raise ValueError(f"unknown model kind {kind!r}; choose one of {list(MODEL_KINDS)}")


__all__ = [
    "DEFAULT_PARAMS",
    "MODEL_KINDS",
    "ModelKind",
    "ModelSpec",
    "build_model",
    "fit_model",
    "predict_proba",
    "scale_pos_weight",
    "search_space",
]
