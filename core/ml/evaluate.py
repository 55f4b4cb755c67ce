"""Out-of-sample classification metrics, feature importance and probability -> position.

Results are plain Python floats and lists so they can be stored as JSON directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance as _sk_permutation_importance
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def evaluate(
    model: Pipeline, X_test: pd.DataFrame, y_test: pd.Series | np.ndarray, threshold: float = 0.5
) -> dict[str, Any]:
    """Score a fitted classifier on held-out rows.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (average precision), ``log_loss``, ``brier``,
        ``accuracy``, ``base_rate``, ``n``, ``threshold``, ``confusion_matrix``
        (``[[tn, fp], [fn, tp]]`` at ``threshold``), ``calibration``
        (``prob_pred``, ``prob_true`` of 10 uniform bins), ``roc`` (``fpr``, ``tpr``)
        and ``pr`` (``precision``, ``recall``). AUCs are NaN when ``y_test`` has one class.
    """
    y = np.asarray(y_test).astype(np.int64)
    if len(y) == 0:
        raise ValueError("X_test is empty")
    proba = model.predict_proba(X_test)[:, 1]
    pred = (proba >= threshold).astype(np.int64)
    two_classes = np.unique(y).size == 2
    out: dict[str, Any] = {
        "n": len(y),
        "threshold": float(threshold),
        "base_rate": float(y.mean()),
        "accuracy": float((pred == y).mean()),
        "brier": float(brier_score_loss(y, proba)),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
    }
    if two_classes:
        fpr, tpr, _ = roc_curve(y, proba)
        precision, recall, _ = precision_recall_curve(y, proba)
        prob_true, prob_pred = calibration_curve(y, proba, n_bins=10, strategy="uniform")
        out |= {
            "roc_auc": float(roc_auc_score(y, proba)),
            "pr_auc": float(average_precision_score(y, proba)),
            "roc": {"fpr": _floats(fpr), "tpr": _floats(tpr)},
            "pr": {"precision": _floats(precision), "recall": _floats(recall)},
            "calibration": {"prob_pred": _floats(prob_pred), "prob_true": _floats(prob_true)},
        }
    else:
        nan = float("nan")
        out |= {
            "roc_auc": nan,
            "pr_auc": nan,
            "roc": {"fpr": [], "tpr": []},
            "pr": {"precision": [], "recall": []},
            "calibration": {"prob_pred": [], "prob_true": []},
        }
    return out


def _xgb_proba(model: Pipeline) -> Any:
    """Class-1 probabilities of an XGBoost-only pipeline on a float array (None for other
    pipelines): the ``inplace_predict`` call ``predict_proba`` makes, without the
    DataFrame round trip."""
    if len(model.steps) != 1 or type(model.steps[-1][1]).__name__ != "XGBClassifier":
        return None
    est = model.steps[-1][1]
    booster = est.get_booster()
    best = getattr(est, "best_iteration", None)
    window = (0, int(best) + 1) if best is not None else (0, 0)

    def proba(X: np.ndarray) -> np.ndarray:
        out: np.ndarray = booster.inplace_predict(
            X, iteration_range=window, missing=est.missing, validate_features=False
        )
        return out

    return proba


def permutation_importance(
    model: Pipeline,
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    *,
    n_repeats: int = 5,
    seed: int = 0,
    scoring: str = "roc_auc",
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Drop in ``scoring`` when each feature is shuffled (scikit-learn), best first.

    Features are shuffled on ``n_jobs`` threads (None: every core); each feature draws
    the same permutations whatever ``n_jobs``, so the result does not depend on it. An
    XGBoost pipeline scored by ROC-AUC is scored on the raw values (the probabilities
    ``predict_proba`` gives, without a DataFrame per permutation).

    Returns a frame indexed by feature with ``importance_mean`` and ``importance_std``.
    """
    from joblib import parallel_config

    from core.ml.tuning import default_jobs

    jobs = default_jobs() if n_jobs is None else n_jobs
    fast = _xgb_proba(model) if scoring == "roc_auc" else None
    data: pd.DataFrame | np.ndarray = X
    scorer: Any = scoring
    if fast is not None:
        data = X.to_numpy(dtype=np.float64)

        def scorer(_model: Pipeline, X_perm: np.ndarray, y_true: np.ndarray) -> float:
            return float(roc_auc_score(y_true, fast(X_perm)))

    with parallel_config(backend="threading", n_jobs=jobs):
        result = _sk_permutation_importance(
            model,
            data,
            np.asarray(y),
            n_repeats=n_repeats,
            random_state=seed,
            scoring=scorer,
            n_jobs=jobs,
        )
    frame = pd.DataFrame(
        {"importance_mean": result.importances_mean, "importance_std": result.importances_std},
        index=pd.Index(list(X.columns), name="feature"),
    )
    return frame.sort_values("importance_mean", ascending=False)


def _xgb_booster(model: Pipeline) -> Any:
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not hasattr(final, "get_booster"):
        raise TypeError(
            f"SHAP contributions need an XGBoost model, got {type(final).__name__}; "
            "use permutation_importance for other models"
        )
    return final.get_booster()


def shap_values(model: Pipeline, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row SHAP contributions (log-odds) of an XGBoost pipeline, plus a ``bias`` column.

    Uses ``booster.predict(DMatrix, pred_contribs=True)`` (TreeSHAP); each row sums to
    the model's raw margin.
    """
    import xgboost as xgb

    booster = _xgb_booster(model)
    transformed = model[:-1].transform(X) if len(model.steps) > 1 else X
    dmatrix = xgb.DMatrix(pd.DataFrame(np.asarray(transformed), columns=list(X.columns)))
    contribs = booster.predict(dmatrix, pred_contribs=True)
    return pd.DataFrame(contribs, index=X.index, columns=[*X.columns, "bias"])


def shap_importance(model: Pipeline, X: pd.DataFrame) -> pd.Series:
    """Mean absolute SHAP contribution per feature, largest first."""
    contribs = shap_values(model, X).drop(columns="bias")
    return contribs.abs().mean().sort_values(ascending=False).rename("mean_abs_shap")


def signal_positions(
    proba: np.ndarray | pd.Series,
    threshold: float = 0.5,
    *,
    scale_by_confidence: bool = True,
    allow_short: bool = False,
) -> np.ndarray | pd.Series:
    """Target positions in [-1, 1] from up-move probabilities.

    Long when ``p > threshold`` with size ``(p - threshold) / (1 - threshold)``
    (or 1 without confidence scaling); with ``allow_short``, short when
    ``p < 1 - threshold`` with size ``(1 - threshold - p) / (1 - threshold)``.
    NaN probabilities are flat. A Series in gives a Series out.

    >>> signal_positions(np.array([0.2, 0.5, 0.6, 1.0]), 0.5).round(6).tolist()
    [0.0, 0.0, 0.2, 1.0]
    >>> signal_positions(np.array([0.2, 0.6]), 0.5, allow_short=True).round(6).tolist()
    [-0.6, 0.2]
    """
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    if allow_short and threshold < 0.5:
        raise ValueError("with allow_short the threshold must be >= 0.5 (long/short zones overlap)")
    p = np.asarray(proba, dtype=np.float64)
    width = 1.0 - threshold
    long = np.where(p > threshold, (p - threshold) / width if scale_by_confidence else 1.0, 0.0)
    pos = np.clip(long, 0.0, 1.0)
    if allow_short:
        lo = 1.0 - threshold
        short = np.where(p < lo, (lo - p) / width if scale_by_confidence else 1.0, 0.0)
        pos = pos - np.clip(short, 0.0, 1.0)
    pos = np.where(np.isfinite(p), pos, 0.0)
    if isinstance(proba, pd.Series):
        return pd.Series(pos, index=proba.index, name="position")
    return pos


__all__ = [
    "evaluate",
    "permutation_importance",
    "shap_importance",
    "shap_values",
    "signal_positions",
]
