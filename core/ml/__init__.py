"""Machine learning engine: datasets, models, purged CV, tuning, evaluation and
look-ahead checks (walk-forward validation lives in :mod:`core.walkforward`).

Importing this package imports neither xgboost nor optuna; they load on first use.
"""

from core.ml.cv import PurgedKFold, purge_train, purged_walk_forward_splits
from core.ml.dataset import MLDataset, feature_frame, make_dataset, make_labels, time_split
from core.ml.evaluate import (
    evaluate,
    permutation_importance,
    shap_importance,
    shap_values,
    signal_positions,
)
from core.ml.inference import OneBarPredictor
from core.ml.lookahead import LookaheadReport, lookahead_check
from core.ml.models import (
    DEFAULT_PARAMS,
    MODEL_KINDS,
    ModelSpec,
    build_model,
    fit_model,
    predict_proba,
    search_space,
)
from core.ml.tuning import TuneResult, cv_auc, tune

__all__ = [
    "DEFAULT_PARAMS",
    "MODEL_KINDS",
    "LookaheadReport",
    "MLDataset",
    "ModelSpec",
    "OneBarPredictor",
    "PurgedKFold",
    "TuneResult",
    "build_model",
    "cv_auc",
    "evaluate",
    "feature_frame",
    "fit_model",
    "lookahead_check",
    "make_dataset",
    "make_labels",
    "permutation_importance",
    "predict_proba",
    "purge_train",
    "purged_walk_forward_splits",
    "search_space",
    "shap_importance",
    "shap_values",
    "signal_positions",
    "time_split",
    "tune",
]
