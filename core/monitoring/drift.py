"""Feature drift of a live window against the training reference: PSI and KS per feature,
overall and per regime, and the signal the retraining policy triggers on.

PSI (population stability index) over the reference's quantile bins::

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

with ``e_i`` the training share of bin i, ``a_i`` the live share, both floored at 1e-4
(an empty bin would make it infinite). Conventional reading: < 0.1 stable, 0.1-0.25
moderate, > 0.25 a major shift. KS is the two-sample Kolmogorov-Smirnov statistic of the
live values against the reference's quantile sketch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

EPS = 1e-4
MIN_ROWS = 100
"""Fewest live values a feature (or a feature in one regime) needs to be scored (with
decile bins, PSI of 30 values of an unchanged distribution is often above 0.25)."""
MIN_REGIME_ROWS = 200
DRIFT_THRESHOLD = 0.25


def psi(summary: Mapping[str, Any], values: np.ndarray) -> float:
    """PSI of ``values`` against one feature's reference summary (NaN: nothing to score)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    props = np.asarray(summary.get("props", []), dtype=np.float64)
    if len(x) == 0 or len(props) == 0:
        return float("nan")
    edges = np.asarray(summary["edges"], dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(props))
    actual = np.maximum(counts / len(x), EPS)
    expected = np.maximum(props, EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two
    empirical CDFs (``scipy.stats.ks_2samp(a, b).statistic``, without its per-call cost).

    >>> ks_statistic(np.array([1.0, 2.0, 3.0]), np.array([2.5, 3.5, 4.5]))
    0.6666666666666667
    """
    a, b = np.sort(a), np.sort(b)
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / len(a)
    fb = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def ks(summary: Mapping[str, Any], values: np.ndarray) -> float:
    """KS statistic of ``values`` against one feature's reference quantile sketch."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    q = np.asarray(summary.get("quantiles", []), dtype=np.float64)
    if len(x) == 0 or len(q) == 0:
        return float("nan")
    return ks_statistic(q, x)


def _score(
    out: dict[str, float],
    features: Mapping[str, Any],
    live: pd.DataFrame,
    *,
    suffix: str = "",
    prefix: str = "",
    min_rows: int = MIN_ROWS,
) -> None:
    for name, summary in features.items():
        if name not in live.columns:
            continue
        values = live[name].to_numpy(dtype=np.float64)
        if np.isfinite(values).sum() < min_rows:
            continue
        out[f"psi{prefix}:{name}{suffix}"] = psi(summary, values)
        out[f"ks{prefix}:{name}{suffix}"] = ks(summary, values)


def drift_scores(
    reference: Mapping[str, Any], live: pd.DataFrame, *, regimes: pd.Series | None = None
) -> dict[str, float]:
    """PSI and KS of every reference feature on the ``live`` rows.

    Keys: ``psi:NAME`` and ``ks:NAME`` overall; per regime, ``psi:NAME@REGIME`` and
    ``ks:NAME@REGIME`` against the reference's own rows of that regime, or, when the
    reference has none for it, ``psi_all:NAME@REGIME`` / ``ks_all:NAME@REGIME`` against
    its overall summary (for the panel only: regimes differ from the whole by nature, so
    rules and :func:`drift_signal` read the ``psi:`` keys); ``psi_max``, ``ks_max`` (of
    the ``psi:``/``ks:`` keys) and ``rows``. A feature needs 100 finite live values
    overall and 200 in a regime (autocorrelated features make small windows noisy).
    """
    out: dict[str, float] = {}
    features = reference.get("features", {})
    _score(out, features, live)
    if regimes is not None:
        labels = regimes.reindex(live.index)
        per_regime = reference.get("regimes", {})
        for label, rows in live.groupby(labels, sort=True):
            own = per_regime.get(str(label))
            _score(
                out,
                own or features,
                rows,
                suffix=f"@{label}",
                prefix="" if own else "_all",
                min_rows=MIN_REGIME_ROWS,
            )
    psis = [v for k, v in out.items() if k.startswith("psi:") and np.isfinite(v)]
    kss = [v for k, v in out.items() if k.startswith("ks:") and np.isfinite(v)]
    out["psi_max"] = max(psis, default=float("nan"))
    out["ks_max"] = max(kss, default=float("nan"))
    out["rows"] = float(len(live))
    return out


@dataclass(frozen=True)
class DriftSignal:
    """Whether features drifted past a PSI threshold, and where the worst drift is."""

    drifted: bool
    psi_max: float
    feature: str | None
    regime: str | None
    threshold: float
    reason: str


def drift_signal(scores: Mapping[str, float], *, threshold: float = DRIFT_THRESHOLD) -> DriftSignal:
    """The retraining trigger from drift scores (:func:`drift_scores`, or the ``drift``
    figures of a cycle report / the latest stored monitor point).

    >>> drift_signal({"psi:ret_1": 0.4, "psi:rsi_14@bear": 0.1}).reason
    'PSI 0.40 on ret_1 >= 0.25'
    """
    psis = {k[4:]: v for k, v in scores.items() if k.startswith("psi:") and np.isfinite(v)}
    if not psis:
        return DriftSignal(False, float("nan"), None, None, threshold, "no drift figures yet")
    where, value = max(psis.items(), key=lambda kv: kv[1])
    feature, _, regime = where.partition("@")
    in_regime = f" in regime {regime}" if regime else ""
    op = ">=" if value >= threshold else "<"
    reason = f"PSI {value:.2f} on {feature}{in_regime} {op} {threshold:g}"
    return DriftSignal(value >= threshold, value, feature, regime or None, threshold, reason)


__all__ = [
    "DRIFT_THRESHOLD",
    "DriftSignal",
    "drift_scores",
    "drift_signal",
    "ks",
    "ks_statistic",
    "psi",
]
