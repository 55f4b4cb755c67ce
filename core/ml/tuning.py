"""Hyper-parameter search with Optuna: seeded TPE, purged-CV ROC-AUC objective."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import roc_auc_score

from core.ml.cv import PurgedKFold
from core.ml.dataset import MLDataset
from core.ml.models import ModelSpec, fit_model, search_space

TrialCallback = Callable[[int, float], None]


class TuneResult(BaseModel):
    """Outcome of :func:`tune` (frozen).

    ``n_trials`` counts every completed trial of the study (including earlier runs
    resumed from ``storage``): the number of configurations tried, for the deflated Sharpe.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    study_name: str
    trial_values: tuple[float, ...]
    seconds: float


def cv_auc(
    dataset: MLDataset,
    spec: ModelSpec,
    *,
    n_splits: int = 5,
    embargo_pct: float = 0.01,
) -> float:
    """Mean ROC-AUC of ``spec`` over :class:`PurgedKFold` folds (single-class folds skipped)."""
    scores = []
    for train, test in PurgedKFold(n_splits=n_splits, embargo_pct=embargo_pct).split(dataset.t1):
        y_train = dataset.y.to_numpy()[train]
        y_test = dataset.y.to_numpy()[test]
        if np.unique(y_train).size < 2 or np.unique(y_test).size < 2:
            continue
        model = fit_model(spec, dataset.X.iloc[train], y_train)
        scores.append(roc_auc_score(y_test, model.predict_proba(dataset.X.iloc[test])[:, 1]))
    return float(np.mean(scores)) if scores else 0.5


def tune(
    dataset: MLDataset,
    kind: str,
    *,
    n_trials: int = 20,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    callback: TrialCallback | None = None,
    n_splits: int = 5,
    embargo_pct: float = 0.01,
    fixed_params: dict[str, Any] | None = None,
    timeout: float | None = None,
) -> TuneResult:
    """Search :func:`core.ml.models.search_space` of ``kind`` to maximize purged-CV AUC.

    Parameters
    ----------
    dataset : MLDataset
        Training rows only (keep the test period out).
    kind : str
        ``"logistic"``, ``"random_forest"`` or ``"xgboost"``.
    n_trials : int
        Trials to run now.
    seed : int
        Seeds the TPE sampler and every model.
    storage : str, optional
        SQLAlchemy URL for Optuna's RDB storage (e.g. ``"sqlite:///var/optuna.db"``);
        an existing study of the same name is resumed. None keeps the study in memory.
    study_name : str, optional
        Defaults to ``"{kind}-seed{seed}"``.
    callback : callable, optional
        ``callback(trial_number, value)`` after each completed trial.
    n_splits, embargo_pct : int, float
        :class:`PurgedKFold` settings of the objective.
    fixed_params : dict, optional
        Parameters held constant (merged under the sampled ones).
    timeout : float, optional
        Stop starting new trials after this many seconds.
    """
    import optuna

    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = study_name or f"{kind}-seed{seed}"
    start = time.perf_counter()
    study = optuna.create_study(
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=seed),
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
    )
    fixed = dict(fixed_params or {})

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **search_space(kind, trial)}
        spec = ModelSpec(kind=kind, params=params, seed=seed)
        return cv_auc(dataset, spec, n_splits=n_splits, embargo_pct=embargo_pct)

    callbacks = []
    if callback is not None:

        def _report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if trial.value is not None:
                callback(trial.number, float(trial.value))

        callbacks.append(_report)
    study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=callbacks)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return TuneResult(
        kind=kind,
        best_params={**fixed, **study.best_params},
        best_value=float(study.best_value),
        n_trials=len(complete),
        study_name=study_name,
        trial_values=tuple(float(t.value) for t in complete if t.value is not None),
        seconds=time.perf_counter() - start,
    )


__all__ = ["TrialCallback", "TuneResult", "cv_auc", "tune"]
