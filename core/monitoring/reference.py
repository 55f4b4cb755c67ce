"""The training reference distribution of a model's features, stored with the model.

:func:`reference_distribution` summarises every feature of a training matrix in enough
detail for PSI (decile bins and their shares) and KS (a 201-point quantile sketch: the
KS statistic against it is within 1/200 of the one against the full sample). The
reference is written beside the model artifact (``reference.json``, copied into the
registry with it) and recorded for the registered version in ``model_references``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from core.store.monitoring import ModelReference, MonitoringRepository

REFERENCE_FILE = "reference.json"
FORMAT = 1
N_BINS = 10
N_QUANTILES = 201
MIN_REGIME_ROWS = 30


def _feature_summary(values: np.ndarray, bins: int) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    n = len(values)
    if len(finite) == 0:
        return {"n": n, "nan": 1.0, "edges": [], "props": [], "quantiles": []}
    inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(inner, finite, side="right"), minlength=len(inner) + 1)
    return {
        "n": n,
        "nan": float(1 - len(finite) / n),
        "edges": [float(e) for e in inner],
        "props": [float(c) / len(finite) for c in counts],
        "quantiles": [float(q) for q in np.quantile(finite, np.linspace(0, 1, N_QUANTILES))],
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
    }


def _summaries(X: pd.DataFrame, bins: int) -> dict[str, Any]:
    return {str(c): _feature_summary(X[c].to_numpy(dtype=np.float64), bins) for c in X.columns}


def reference_distribution(
    X: pd.DataFrame,
    *,
    regimes: pd.Series | None = None,
    bins: int = N_BINS,
    oos: Mapping[str, float] | None = None,
    horizon: int = 1,
) -> dict[str, Any]:
    """Summarise every column of ``X`` (training rows) for drift checks.

    Parameters
    ----------
    X : DataFrame
        One column per feature.
    regimes : Series, optional
        A regime label per row of ``X``: each regime with at least 30 rows gets its own
        summaries (per-regime drift compares with them; else with the overall ones).
    bins : int
        PSI bins (quantile bins of the training values: equal shares).
    oos : mapping, optional
        The model's out-of-sample figures (``auc``, ``hit_rate``, ``brier``, ``ece``).
    horizon : int
        Bars ahead the model predicts (when a live probability's outcome is known).

    Returns
    -------
    dict
        JSON-ready: ``format``, ``n``, ``bins``, ``horizon``, ``features`` (name ->
        ``edges``, ``props``, ``quantiles``, ``mean``, ``std``, ``nan``), ``regimes``
        (label -> the same per feature) and ``oos``.
    """
    by_regime: dict[str, Any] = {}
    if regimes is not None:
        labels = regimes.reindex(X.index)
        for label, rows in X.groupby(labels, sort=True):
            if len(rows) >= MIN_REGIME_ROWS:
                by_regime[str(label)] = _summaries(rows, bins)
    return {
        "format": FORMAT,
        "n": len(X),
        "bins": bins,
        "horizon": int(horizon),
        "features": _summaries(X, bins),
        "regimes": by_regime,
        "oos": {k: float(v) for k, v in (oos or {}).items() if math.isfinite(float(v))},
    }


def write_reference(folder: str | Path, reference: Mapping[str, Any]) -> Path:
    """Write ``reference`` as ``reference.json`` in a model artifact folder (not one of
    the checksummed model files: the registry copies it along)."""
    path = Path(folder) / REFERENCE_FILE
    path.write_text(json.dumps(reference, separators=(",", ":")))
    return path


def read_reference(folder: str | Path) -> dict[str, Any] | None:
    """The reference beside a model artifact, or None when it has none."""
    path = Path(folder) / REFERENCE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def store_reference(
    session: Session, *, version_id: int, name: str, version: int, artifact_path: str | Path
) -> ModelReference | None:
    """Record the reference of a registered version (read from its artifact folder);
    None when the artifact has no reference (a model saved before monitoring)."""
    reference = read_reference(artifact_path)
    if reference is None:
        return None
    row = ModelReference(
        version_id=version_id,
        name=name,
        version=version,
        features=list(reference["features"]),
        reference=reference,
        oos=dict(reference.get("oos", {})),
        path=str(Path(artifact_path) / REFERENCE_FILE),
    )
    return MonitoringRepository(session).save_reference(row)


def record_registered(session: Session, version_id: int) -> ModelReference | None:
    """Record the reference of registered version ``version_id`` from its artifact folder
    (call it in the registration's transaction); None when it has none."""
    from core.store.models import ModelVersion

    version = session.get(ModelVersion, version_id)
    if version is None:
        return None
    return store_reference(
        session,
        version_id=version.id,
        name=version.name,
        version=version.version,
        artifact_path=version.artifact_path,
    )


def training_reference(
    prices: pd.DataFrame,
    features: list[str],
    *,
    horizon: int,
    label: Literal["sign", "triple_barrier"],
    test_fraction: float,
    proba: pd.Series,
) -> dict[str, Any]:
    """The reference of a model trained by :func:`core.ml.training.train_classifier`:
    its training rows' features (the same dataset and split, rebuilt), per regime too
    (:func:`training_regimes`), and its out-of-sample figures (``proba`` on the test rows
    against their labels)."""
    from core.ml.dataset import make_dataset, time_split
    from core.monitoring.metrics import model_metrics

    dataset = make_dataset(prices, features, horizon=horizon, label=label)
    train, test = time_split(dataset, test_fraction=test_fraction, embargo=horizon)
    y = test.y
    common = proba.index.intersection(y.index)
    oos = model_metrics(y.loc[common].to_numpy(), proba.loc[common].to_numpy())
    regimes = training_regimes(prices.loc[: train.X.index[-1]]) if len(train.X) else None
    return reference_distribution(train.X, regimes=regimes, oos=oos, horizon=horizon)


def training_regimes(prices: pd.DataFrame) -> pd.Series | None:
    """A regime label per training bar (:func:`core.regime.fit_regimes` on the training
    bars only, argmax of the forward-filtered probabilities: the labels the live
    pipeline's regime model uses); None when the bars are too few to fit."""
    from core.regime import fit_regimes

    try:
        labels = fit_regimes(prices).label
    except ValueError:
        return None
    return labels.dropna().astype(str)


def reference_for(
    session: Session, version_id: int, artifact_path: str | Path | None = None
) -> dict[str, Any] | None:
    """The stored reference of a version; recorded from ``artifact_path`` first when the
    registration did not record it (None when there is none)."""
    row = MonitoringRepository(session).reference(version_id)
    if row is not None:
        return dict(row.reference)
    return None if artifact_path is None else read_reference(artifact_path)


__all__ = [
    "REFERENCE_FILE",
    "read_reference",
    "record_registered",
    "reference_distribution",
    "reference_for",
    "store_reference",
    "training_reference",
    "training_regimes",
    "write_reference",
]
