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
from core.ml.tuning import (
    PRUNER_STARTUP_TRIALS,
    TRIAL_BATCH,
    cv_auc,
    cv_folds,
    fold_proba,
    tune,
)
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)
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


def _running_mean(trial: Any, step: int, train: MLDataset) -> float:
    """Mean CV AUC of the trial's parameters over folds 0..step, recomputed."""
    params = {"n_estimators": 20, **trial.params}
    spec = ModelSpec(kind="xgboost", params=params, seed=1)
    folds = [f for f in cv_folds(train, n_splits=4) if f.step <= step]
    return float(np.mean([roc_auc_score(f.y_test, fold_proba(spec, f)) for f in folds]))


def test_median_pruner_stops_the_planted_hopeless_trials(train: MLDataset, tmp_path: Path) -> None:
    import optuna

    seen: list[int] = []
    url = f"sqlite:///{tmp_path / 'optuna.db'}"  # a storage, to read each trial back
    result = tune(
        train,
        "xgboost",
        n_trials=16,
        seed=1,
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
    assert result.n_pruned == len(pruned) > 0
    assert result.n_trials == 16 == len(pruned) + len(complete)
    assert all(
        v == 0.5
        for t in trials
        if t.params["min_child_weight"] == 1e6
        for v in t.intermediate_values.values()
    )
    # the median rule, recomputed from the stored trials: a trial meets the completed
    # trials told before its batch; with at least PRUNER_STARTUP_TRIALS of them it stops
    # at the first step >= 1 where its best running AUC is below their median there
    planted = 0
    for t in trials:
        batch_start = t.number // TRIAL_BATCH * TRIAL_BATCH
        before = [c for c in complete if c.number < batch_start]
        stop = None
        if len(before) >= PRUNER_STARTUP_TRIALS:
            best = -np.inf
            for step in range(4):
                best = max(best, _running_mean(t, step, train))
                median = np.median([c.intermediate_values[step] for c in before])
                if step >= 1 and best < median:
                    stop = step
                    break
        assert (t.state == states.PRUNED) == (stop is not None), t.number
        if stop is not None:
            assert list(t.intermediate_values) == list(range(stop + 1))
        if t.params["min_child_weight"] == 1e6 and len(before) >= PRUNER_STARTUP_TRIALS:
            # a hopeless trial (0.5 at every fold) stops at the first fold allowed
            assert stop == 1 and median > 0.5
            planted += 1
    assert planted > 0
    assert result.best_params["min_child_weight"] == 1.0 and result.best_value > 0.6
    # the callback reports completed trials only, in trial order
    assert seen == [t.number for t in complete]


def test_pruning_off_completes_every_trial(train: MLDataset) -> None:
    result = tune(train, "xgboost", n_trials=8, seed=0, n_splits=3, space=_space, prune=False)
    assert result.n_pruned == 0 and len(result.trial_values) == result.n_trials == 8


# ----- trial batches: serial against Dask, resume after an interruption -----------------
def _same(a: Any, b: Any) -> None:
    assert a.best_params == b.best_params
    assert a.best_value == b.best_value
    assert a.trial_values == b.trial_values
    assert a.n_pruned == b.n_pruned and a.n_trials == b.n_trials


def test_trial_batches_on_two_dask_workers_equal_the_serial_run(
    train: MLDataset, dask_client: Any
) -> None:
    kwargs: dict[str, Any] = {"n_trials": 12, "seed": 1, "n_splits": 4, "space": _space}
    serial = tune(train, "xgboost", executor="serial", **kwargs)
    seen: list[int] = []
    on_dask = tune(
        train, "xgboost", executor="dask", callback=lambda n, _v: seen.append(n), **kwargs
    )
    _same(on_dask, serial)
    assert serial.n_pruned > 0  # the pruning rule ran on the workers too
    assert seen == sorted(seen) and len(seen) == len(serial.trial_values)
    # the batch size, not the worker count, fixes the trials: other batches differ
    single = tune(train, "xgboost", executor="serial", batch_size=1, **kwargs)
    assert single.n_trials == 12


class _Stop(Exception):
    pass


def test_an_interrupted_study_resumes_without_rerunning_told_trials(
    train: MLDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna

    from core.ml import tuning

    kwargs: dict[str, Any] = {"seed": 1, "n_splits": 4, "space": _space, "resume": True}
    reference = tune(train, "xgboost", n_trials=12, **kwargs)
    calls: list[int] = []
    real = tuning.trial_scores

    def counted(chunk: tuple[int, dict[str, Any]], **shared: Any) -> dict[str, Any]:
        calls.append(chunk[0])
        return real(chunk, **shared)

    monkeypatch.setattr(tuning, "trial_scores", counted)
    checks: list[int] = []

    k = TRIAL_BATCH

    def die_in_the_second_batch() -> None:
        # checks: batch 0, its k trials, batch 1, two of its trials; dies before a third
        checks.append(1)
        if len(checks) == k + 5:
            raise _Stop

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with pytest.raises(_Stop):
        tune(
            train,
            "xgboost",
            n_trials=12,
            storage=url,
            study_name="job-1",
            cancel=die_in_the_second_batch,
            **kwargs,
        )
    assert len(calls) == k + 2 and set(calls) < set(range(2 * k))
    states = optuna.trial.TrialState
    stored = optuna.load_study(study_name="job-1", storage=url).trials
    told = {t.number for t in stored if t.state != states.RUNNING}
    # batch 0 was told; of batch 1, only what two trials (in trial order) allowed; the rest
    # were asked (their parameters stored) and never told
    assert set(range(k)) <= told <= set(calls) and len(stored) == 2 * k
    assert len(told) < k + 2 or sorted(calls)[k : k + 2] == [k, k + 1]

    calls.clear()
    resumed = tune(train, "xgboost", n_trials=12, storage=url, study_name="job-1", **kwargs)
    assert sorted(calls) == sorted(set(range(12)) - told)  # no told trial is re-run
    _same(resumed, reference)
    calls.clear()
    again = tune(train, "xgboost", n_trials=12, storage=url, study_name="job-1", **kwargs)
    assert calls == [] and again.best_params == reference.best_params


def test_optuna_tables_in_the_workbench_database_are_not_schema_drift(
    train: MLDataset, tmp_path: Path
) -> None:
    """Autogenerate (through our migrations' env.py) finds nothing to change in a
    migrated database that also holds an Optuna study, so it would never drop them."""
    from alembic import command
    from sqlalchemy import inspect

    from core.store.db import alembic_config, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'workbench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    tune(train, "logistic", n_trials=1, seed=0, n_splits=3, storage=url, study_name="s")
    assert {"studies", "trials", "trial_values"} <= set(inspect(engine).get_table_names())
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises AutogenerateDiffsDetected on any difference
    upgrade(engine)  # and our migrations leave Optuna's tables alone
    assert (
        tune(
            train,
            "logistic",
            n_trials=1,
            seed=0,
            n_splits=3,
            storage=url,
            study_name="s",
            resume=True,
        ).n_trials
        == 1
    )


def test_a_worker_keeps_the_first_batchs_folds_and_their_matrices(train: MLDataset) -> None:
    import pickle

    from core.ml import tuning
    from core.ml.tuning import folds_key, trial_scores

    tuning._FOLDS_MEMO.clear()  # a fresh worker process
    folds = cv_folds(train, n_splits=3)
    resent = pickle.loads(pickle.dumps(folds))  # what the next batch's scatter delivers
    fid = folds_key(train, 3, 0.01)
    kw: dict[str, Any] = {"kind": "xgboost", "seed": 0, "thresholds": None, "folds_id": fid}
    first = trial_scores((0, {"n_estimators": 5}), folds=folds, **kw)
    again = trial_scores((0, {"n_estimators": 5}), folds=resent, **kw)
    assert first == again
    assert all(len(f.matrices) == 1 for f in folds) and all(not f.matrices for f in resent)
    assert folds_key(train, 4, 0.01) != fid


def test_dask_trials_read_the_folds_a_plugin_installed_and_it_is_removed_after(
    train: MLDataset, dask_client: Any
) -> None:
    from core.ml import tuning

    tuning._FOLDS_MEMO.clear()
    settings = {"kind": "logistic", "seed": 0, "thresholds": None, "folds_id": "missing"}
    with pytest.raises(RuntimeError, match="folds of search missing are not installed"):
        tuning.trial_chunk((0, {}, settings))
    result = tune(train, "logistic", n_trials=3, seed=0, n_splits=3, executor="dask")
    assert result.n_trials == 3
    plugins = dask_client.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.worker_plugins)
    )
    assert not [name for name in plugins if name.startswith("workbench-folds-")]
