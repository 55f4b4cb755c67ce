"""Scoring without pandas: OneBarPredictor's one row equals the pipeline's ``predict_proba``
on the one-row DataFrame (every model, the registry's artifacts), and permutation
importance on raw values and threads equals scikit-learn's on the DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features
from core.ml.dataset import MLDataset, make_dataset
from core.ml.inference import OneBarPredictor
from core.ml.models import ModelSpec, fit_model
from core.registry.artifacts import load_model, save_model

PARAMS: dict[str, dict[str, Any]] = {
    "xgboost": {"n_estimators": 40, "max_depth": 3},
    "logistic": {"C": 0.5},
    "random_forest": {"n_estimators": 20, "max_depth": 4},
}


@pytest.fixture(scope="module")
def dataset() -> MLDataset:
    prices = generate(SyntheticSpec(bars=900, seed=3))[0]
    return make_dataset(prices, available_features(prices.columns), horizon=5)


@pytest.mark.parametrize(
    ("kind", "path"),
    [("xgboost", "xgboost"), ("logistic", "logistic"), ("random_forest", "pipeline")],
)
def test_fast_path_equals_the_dataframe_path(dataset: MLDataset, kind: str, path: str) -> None:
    model = fit_model(ModelSpec(kind=kind, params=PARAMS[kind], seed=7), dataset.X, dataset.y)  # type: ignore[arg-type]
    fast = OneBarPredictor(model)
    assert fast.path == path and fast.features == dataset.feature_names
    expected = model.predict_proba(dataset.X)[:, 1]
    values = dataset.X.to_numpy()
    got = np.array([fast(values[i]) for i in range(len(values))])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)
    one_row = [model.predict_proba(dataset.X.iloc[[i]])[0, 1] for i in range(0, len(values), 97)]
    np.testing.assert_allclose(got[::97], one_row, rtol=0, atol=1e-7)


def test_rows_by_name_in_any_order_and_wrong_lengths(dataset: MLDataset) -> None:
    model = fit_model(ModelSpec(kind="logistic"), dataset.X, dataset.y)
    fast = OneBarPredictor(model)
    row = dataset.X.iloc[10]
    shuffled = {name: float(row[name]) for name in reversed(dataset.feature_names)}
    assert fast(shuffled) == pytest.approx(
        model.predict_proba(dataset.X.iloc[[10]])[0, 1], abs=1e-12
    )
    with pytest.raises(ValueError, match="expected"):
        fast(row.to_numpy()[:-1])
    with pytest.raises(KeyError):
        fast({"ret_1": 0.0})


def test_missing_values_follow_xgboost(dataset: MLDataset) -> None:
    model = fit_model(ModelSpec(kind="xgboost", params=PARAMS["xgboost"]), dataset.X, dataset.y)
    fast = OneBarPredictor(model)
    frame = dataset.X.iloc[[5]].copy()
    frame.iloc[0, ::3] = np.nan
    assert fast(frame.to_numpy()[0]) == pytest.approx(model.predict_proba(frame)[0, 1], abs=1e-7)


@pytest.mark.parametrize("kind", ["xgboost", "logistic"])
def test_registry_artifacts_get_the_fast_path(
    dataset: MLDataset, kind: str, tmp_path: Path
) -> None:
    model = fit_model(ModelSpec(kind=kind, params=PARAMS[kind]), dataset.X, dataset.y)  # type: ignore[arg-type]
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    fast = OneBarPredictor(loaded)
    assert fast.path == kind
    values = dataset.X.to_numpy()[:50]
    got = np.array([fast(v) for v in values])
    np.testing.assert_allclose(
        got, model.predict_proba(dataset.X.iloc[:50])[:, 1], rtol=0, atol=1e-7
    )


def test_refuses_models_without_feature_names_or_two_classes(dataset: MLDataset) -> None:
    model = fit_model(ModelSpec(kind="logistic"), dataset.X.to_numpy(), dataset.y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="feature names"):
        OneBarPredictor(model)
    three = pd.Series(np.arange(len(dataset)) % 3, index=dataset.X.index)
    model = fit_model(ModelSpec(kind="logistic"), dataset.X, three)
    with pytest.raises(ValueError, match="classes"):
        OneBarPredictor(model)


def test_permutation_importance_on_raw_values_and_threads_equals_sklearn(
    dataset: MLDataset,
) -> None:
    from sklearn.inspection import permutation_importance as sk_permutation_importance

    from core.ml.evaluate import permutation_importance

    train, test = dataset.subset(slice(0, 600)), dataset.subset(slice(600, None))
    model = fit_model(ModelSpec(kind="xgboost", params=PARAMS["xgboost"]), train.X, train.y)
    ref = sk_permutation_importance(
        model, test.X, test.y.to_numpy(), n_repeats=3, random_state=4, scoring="roc_auc"
    )
    expected = pd.Series(ref.importances_mean, index=test.X.columns)
    for jobs in (1, 2):
        got = permutation_importance(model, test.X, test.y, n_repeats=3, seed=4, n_jobs=jobs)
        pd.testing.assert_series_equal(
            got["importance_mean"].sort_index(), expected.sort_index(), check_names=False
        )
