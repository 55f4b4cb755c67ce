"""Models, evaluation, tuning and artifacts on seeded synthetic data with a planted signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.ml.dataset import MLDataset, make_dataset, time_split
from core.ml.evaluate import (
    evaluate,
    permutation_importance,
    shap_importance,
    shap_values,
    signal_positions,
)
from core.ml.models import ModelSpec, build_model, fit_model
from core.ml.tuning import tune
from core.registry.artifacts import ArtifactError, load_model, save_model, verify_artifact

FEATURES = ["ret_1", "ret_5", "vol_21", "rsi_14", "zscore_20"]
H = 5
SMALL_XGB = {"n_estimators": 60, "max_depth": 3}


def _planted(prices: pd.DataFrame, noise: float, seed: int) -> pd.DataFrame:
    """A deliberately leaky feature: the next-H-bar return plus Gaussian noise."""
    fwd = prices["close"].shift(-H) / prices["close"] - 1.0
    rng = np.random.default_rng(seed)
    planted = fwd + rng.normal(0.0, noise * fwd.std(), len(fwd))
    return pd.DataFrame({"planted": planted}, index=prices.index)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=2000, seed=21))[0]


@pytest.fixture(scope="module")
def planted_split(prices: pd.DataFrame) -> tuple[MLDataset, MLDataset]:
    ds = make_dataset(prices, FEATURES, horizon=H, extra_features=_planted(prices, 1.5, 0))
    return time_split(ds, test_fraction=0.3)


@pytest.fixture(scope="module")
def xgb_model(planted_split: tuple[MLDataset, MLDataset]):
    train, _ = planted_split
    return fit_model(ModelSpec(kind="xgboost", params=SMALL_XGB, seed=1), train.X, train.y)


def test_model_spec_validation() -> None:
    with pytest.raises(ValueError, match="no parameters"):
        ModelSpec(kind="logistic", params={"n_estimators": 5})
    with pytest.raises(ValueError, match="set automatically"):
        ModelSpec(kind="xgboost", params={"random_state": 3})
    with pytest.raises(ValueError):
        ModelSpec(kind="svm")  # type: ignore[arg-type]
    spec = ModelSpec(kind="random_forest", params={"n_estimators": 10})
    with pytest.raises(ValueError):
        spec.seed = 4  # frozen


def test_build_model_seeds_and_balances() -> None:
    logistic = build_model(ModelSpec(kind="logistic", seed=3))
    assert [n for n, _ in logistic.steps] == ["scale", "model"]
    assert logistic["model"].class_weight == "balanced" and logistic["model"].random_state == 3
    forest = build_model(ModelSpec(kind="random_forest", seed=3))
    assert forest["model"].class_weight == "balanced" and forest["model"].n_jobs == 1
    y = np.array([0, 0, 0, 1, 1, 0, 0, 0])
    xgb = build_model(ModelSpec(kind="xgboost", seed=3), y)
    assert xgb["model"].get_params()["scale_pos_weight"] == pytest.approx(6 / 2)
    assert xgb["model"].get_params()["random_state"] == 3


@pytest.mark.parametrize("kind", ["random_forest", "xgboost"])
def test_same_seed_same_predictions(kind: str, planted_split: tuple[MLDataset, MLDataset]) -> None:
    train, test = planted_split
    spec = ModelSpec(kind=kind, params={"n_estimators": 20}, seed=5)  # type: ignore[arg-type]
    a = fit_model(spec, train.X, train.y).predict_proba(test.X)
    b = fit_model(spec, train.X, train.y).predict_proba(test.X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["logistic", "xgboost"])
def test_planted_feature_is_learned_out_of_sample(
    kind: str, planted_split: tuple[MLDataset, MLDataset]
) -> None:
    train, test = planted_split
    assert train.t1.max() < test.X.index.min()
    params = SMALL_XGB if kind == "xgboost" else {}
    model = fit_model(ModelSpec(kind=kind, params=params), train.X, train.y)  # type: ignore[arg-type]
    report = evaluate(model, test.X, test.y)
    assert report["roc_auc"] > 0.65, report["roc_auc"]
    assert report["pr_auc"] > test.y.mean()
    assert report["brier"] < 0.25
    assert sum(map(sum, report["confusion_matrix"])) == len(test) == report["n"]
    assert len(report["calibration"]["prob_pred"]) == len(report["calibration"]["prob_true"]) > 3
    assert report["roc"]["fpr"][0] == 0.0 and report["roc"]["tpr"][-1] == 1.0


def test_without_the_planted_feature_there_is_no_edge(prices: pd.DataFrame) -> None:
    ds = make_dataset(prices, FEATURES, horizon=H)
    train, test = time_split(ds, test_fraction=0.3)
    model = fit_model(ModelSpec(kind="logistic"), train.X, train.y)
    assert abs(evaluate(model, test.X, test.y)["roc_auc"] - 0.5) < 0.08


def test_importances_rank_the_planted_feature_first(
    xgb_model, planted_split: tuple[MLDataset, MLDataset]
) -> None:
    _, test = planted_split
    perm = permutation_importance(xgb_model, test.X, test.y, n_repeats=3, seed=0)
    assert perm.index[0] == "planted" and perm["importance_mean"].iloc[0] > 0.1
    shap = shap_importance(xgb_model, test.X)
    assert shap.index[0] == "planted"
    contribs = shap_values(xgb_model, test.X.iloc[:50])
    margin = xgb_model["model"].predict(test.X.iloc[:50], output_margin=True)
    np.testing.assert_allclose(contribs.sum(axis=1).to_numpy(), margin, rtol=1e-4, atol=1e-4)
    logistic = fit_model(ModelSpec(kind="logistic"), test.X, test.y)
    with pytest.raises(TypeError, match="XGBoost"):
        shap_importance(logistic, test.X)


def test_signal_positions() -> None:
    p = np.array([0.1, 0.4, 0.5, 0.55, 0.7, 0.9, np.nan])
    np.testing.assert_allclose(signal_positions(p, 0.5), [0, 0, 0, 0.1, 0.4, 0.8, 0], atol=1e-12)
    np.testing.assert_allclose(
        signal_positions(p, 0.6, scale_by_confidence=False), [0, 0, 0, 0, 1, 1, 0]
    )
    np.testing.assert_allclose(
        signal_positions(p, 0.5, allow_short=True), [-0.8, -0.2, 0, 0.1, 0.4, 0.8, 0], atol=1e-12
    )
    s = signal_positions(pd.Series([0.8], index=[pd.Timestamp("2020-01-01")]), 0.6)
    assert isinstance(s, pd.Series) and s.iloc[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="overlap"):
        signal_positions(p, 0.4, allow_short=True)


def test_tune_is_seeded_resumable_and_reports_trials(
    tmp_path: Path, planted_split: tuple[MLDataset, MLDataset]
) -> None:
    train, _ = planted_split
    seen: list[tuple[int, float]] = []
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = tune(
        train,
        "logistic",
        n_trials=4,
        seed=0,
        storage=url,
        study_name="t",
        n_splits=3,
        callback=lambda n, v: seen.append((n, v)),
    )
    assert [n for n, _ in seen] == [0, 1, 2, 3]
    assert first.n_trials == 4 and first.best_value == max(v for _, v in seen)
    assert first.best_value > 0.65 and set(first.best_params) == {"C"}
    resumed = tune(train, "logistic", n_trials=2, seed=0, storage=url, study_name="t", n_splits=3)
    assert resumed.n_trials == 6 and resumed.best_value >= first.best_value
    again = tune(train, "logistic", n_trials=4, seed=0, n_splits=3)
    assert again.best_params == first.best_params


@pytest.mark.parametrize("kind", ["logistic", "xgboost"])
def test_artifact_round_trip(
    kind: str, tmp_path: Path, planted_split: tuple[MLDataset, MLDataset]
) -> None:
    train, test = planted_split
    params = {"n_estimators": 20} if kind == "xgboost" else {}
    model = fit_model(ModelSpec(kind=kind, params=params), train.X, train.y)  # type: ignore[arg-type]
    info = save_model(model, tmp_path / "m", metadata={"kind": kind})
    assert len(info.checksum) == 64 and info.feature_names == train.feature_names
    if kind == "xgboost":
        assert set(info.files) == {"model.json"}  # native XGBoost JSON
    loaded = load_model(tmp_path / "m", expected_checksum=info.checksum)
    np.testing.assert_array_equal(model.predict_proba(test.X), loaded.predict_proba(test.X))


def test_corrupted_or_missing_artifact_raises(
    tmp_path: Path, xgb_model, planted_split: tuple[MLDataset, MLDataset]
) -> None:
    info = save_model(xgb_model, tmp_path / "m")
    target = tmp_path / "m" / "model.json"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"checksum mismatch for .*model\.json") as err:
        load_model(tmp_path / "m")
    message = str(err.value)
    assert info.files["model.json"] in message and "retrain" in message
    target.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_model(tmp_path / "m")
    other = save_model(xgb_model, tmp_path / "n")
    with pytest.raises(ArtifactError, match="expected"):
        verify_artifact(tmp_path / "n", expected_checksum="0" * 64)
    (tmp_path / "n" / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="manifest"):
        load_model(tmp_path / "n", expected_checksum=other.checksum)
