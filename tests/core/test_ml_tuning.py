"""Tuning on seeded synthetic data: the reused-matrix XGBoost path against the
scikit-learn wrapper, seeded and n_jobs-independent searches, and the median pruner on a
planted hopeless region of a search space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from core.data.synthetic import SyntheticSpec, generate
from core.ml.cv import PurgedKFold
from core.ml.dataset import MLDataset, make_dataset, time_split
from core.ml.models import ModelSpec, fit_model
from core.ml.tuning import PRUNER_STARTUP_TRIALS, cv_auc, cv_folds, fold_proba, tune

FEATURES = ["ret_1", "ret_5", "vol_21", "rsi_14", "zscore_20"]
H = 5
SMALL = {"n_estimators": 30, "max_depth": 3}


def _planted(prices: pd.DataFrame, noise: float, seed: int) -> pd.DataFrame:
    """A deliberately leaky feature: the next-H-bar return plus Gaussian noise."""
    fwd = prices["close"].shift(-H) / prices["close"] - 1.0
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"planted": fwd + rng.normal(0.0, noise * fwd.std(), len(fwd))}, index=prices.index
    )


@pytest.fixture(scope="module")
def train() -> MLDataset:
    prices = generate(SyntheticSpec(bars=1500, seed=21))[0]
    ds = make_dataset(prices, FEATURES, horizon=H, extra_features=_planted(prices, 1.5, 0))
    return time_split(ds, test_fraction=0.3)[0]


def _old_cv_auc(dataset: MLDataset, spec: ModelSpec, n_splits: int) -> float:
    """The objective before the matrix reuse: a fresh XGBClassifier fit on every fold."""
    scores = []
    y = dataset.y.to_numpy()
    for tr, te in PurgedKFold(n_splits=n_splits, embargo_pct=0.01).split(dataset.t1):
        model = fit_model(spec, dataset.X.iloc[tr], y[tr])
        scores.append(roc_auc_score(y[te], model.predict_proba(dataset.X.iloc[te])[:, 1]))
    return float(np.mean(scores))


@pytest.mark.parametrize(
    "params",
    [
        SMALL,
        {**SMALL, "subsample": 0.6, "colsample_bytree": 0.5, "learning_rate": 0.2},
        {**SMALL, "max_bin": 32, "min_child_weight": 20.0},
    ],
)
def test_reused_quantile_matrix_predicts_like_the_sklearn_wrapper(
    train: MLDataset, params: dict[str, Any]
) -> None:
    folds = cv_folds(train, n_splits=3)
    spec = ModelSpec(kind="xgboost", params=params, seed=4)
    for fold in folds:
        expected = fit_model(spec, fold.X_train, fold.y_train).predict_proba(fold.X_test)[:, 1]
        np.testing.assert_allclose(fold_proba(spec, fold), expected, rtol=0, atol=1e-7)
        first = dict(fold.matrices)
        # a second trial with other parameters trains on the same matrix object
        other = ModelSpec(kind="xgboost", params={**params, "max_depth": 2}, seed=4)
        again = fit_model(other, fold.X_train, fold.y_train).predict_proba(fold.X_test)[:, 1]
        np.testing.assert_allclose(fold_proba(other, fold), again, rtol=0, atol=1e-7)
        assert len(fold.matrices) == 1
        assert all(fold.matrices[k] is m for k, m in first.items())


def test_cv_auc_equals_the_per_fit_objective(train: MLDataset) -> None:
    for kind, params in (("xgboost", SMALL), ("logistic", {"C": 0.3})):
        spec = ModelSpec(kind=kind, params=params, seed=2)  # type: ignore[arg-type]
        assert cv_auc(train, spec, n_splits=4) == pytest.approx(
            _old_cv_auc(train, spec, 4), abs=1e-12
        )


def _space(trial: Any) -> dict[str, Any]:
    """A small XGBoost space whose min_child_weight=1e6 half is hopeless: no split is
    allowed, every prediction is the base score and every fold AUC is exactly 0.5."""
    return {
        "n_estimators": 20,
        "max_depth": trial.suggest_int("max_depth", 2, 4),
        "min_child_weight": trial.suggest_categorical("min_child_weight", [1.0, 1e6]),
    }


def test_tune_is_seeded_and_the_same_on_every_n_jobs(train: MLDataset) -> None:
    runs = [
        tune(train, "xgboost", n_trials=8, seed=5, n_splits=3, space=_space, n_jobs=jobs)
        for jobs in (1, 1, 2)
    ]
    first = runs[0]
    for other in runs[1:]:
        assert other.best_params == first.best_params
        assert other.best_value == first.best_value
        assert other.trial_values == first.trial_values
        assert other.n_pruned == first.n_pruned


def test_median_pruner_stops_the_planted_hopeless_trials(train: MLDataset, tmp_path: Path) -> None:
    import optuna

    seen: list[int] = []
    url = f"sqlite:///{tmp_path / 'optuna.db'}"  # a storage, to read each trial back
    result = tune(
        train,
        "xgboost",
        n_trials=16,
        seed=0,
        n_splits=4,
        space=_space,
        callback=lambda n, _v: seen.append(n),
        storage=url,
        study_name="prune",
    )
    trials = optuna.load_study(study_name="prune", storage=url).trials
    states = optuna.trial.TrialState
    pruned = [t for t in trials if t.state == states.PRUNED]
    complete = [t for t in trials if t.state == states.COMPLETE]
    hopeless = [t for t in trials if t.params["min_child_weight"] == 1e6]
    late = [t for t in hopeless if t.number >= PRUNER_STARTUP_TRIALS]
    assert result.n_pruned == len(pruned) > 0 and late
    assert result.n_trials == 16 == len(pruned) + len(complete)
    # every hopeless trial after the startup trials is pruned at the first fold allowed
    assert all(t.state == states.PRUNED for t in late)
    assert all(list(t.intermediate_values) == [0, 1] for t in late)
    assert all(v == 0.5 for t in hopeless for v in t.intermediate_values.values())
    assert all(t.number >= PRUNER_STARTUP_TRIALS for t in pruned)
    assert result.best_params["min_child_weight"] == 1.0 and result.best_value > 0.6
    # the callback reports completed trials only
    assert seen == [t.number for t in complete]


def test_pruning_off_completes_every_trial(train: MLDataset) -> None:
    result = tune(train, "xgboost", n_trials=8, seed=0, n_splits=3, space=_space, prune=False)
    assert result.n_pruned == 0 and len(result.trial_values) == result.n_trials == 8
