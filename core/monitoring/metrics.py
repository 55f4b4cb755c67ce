"""Live metrics of a model's probabilities against realized outcomes: hit rate, AUC,
Brier score and expected calibration error, and their decay from the registration
figures.

``<metric>_drop`` is signed so that positive means worse: registration minus live for
hit rate and AUC, live minus registration for Brier and ECE.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata

HIGHER_IS_BETTER = ("hit_rate", "auc")
LOWER_IS_BETTER = ("brier", "ece")


def expected_calibration_error(y: np.ndarray, p: np.ndarray, *, bins: int = 10) -> float:
    """ECE over equal-width probability bins: sum_b (n_b / n) * |mean(y_b) - mean(p_b)|.

    >>> expected_calibration_error(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.9, 0.1]))
    0.1
    """
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(p) == 0:
        return float("nan")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(idx):
        mask = idx == b
        total += mask.sum() / len(p) * abs(y[mask].mean() - p[mask].mean())
    return round(float(total), 12)


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties at half (NaN with one class).

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    y = np.asarray(y) == 1
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(np.asarray(p, dtype=np.float64))
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def model_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Hit rate (``p >= 0.5`` predicts up), AUC (NaN with one class), Brier and ECE."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) == 0:
        return {}
    return {
        "n": float(len(y)),
        "hit_rate": float(np.mean((p >= 0.5) == (y == 1))),
        "auc": roc_auc(y, p),
        "brier": float(np.mean((p - y) ** 2)),
        "ece": expected_calibration_error(y, p),
    }


def decay(live: Mapping[str, float], reference: Mapping[str, float]) -> dict[str, float]:
    """``<metric>_drop`` of each metric both sides have (positive: worse than at
    registration).

    >>> decay({"auc": 0.5, "brier": 0.3}, {"auc": 0.6, "brier": 0.25})
    {'auc_drop': 0.1, 'brier_drop': 0.05}
    """
    out: dict[str, float] = {}
    for m in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
        if m in live and m in reference and np.isfinite(live[m]):
            sign = 1.0 if m in HIGHER_IS_BETTER else -1.0
            out[f"{m}_drop"] = round(sign * (reference[m] - live[m]), 12)
    return out


__all__ = ["decay", "expected_calibration_error", "model_metrics", "roc_auc"]
