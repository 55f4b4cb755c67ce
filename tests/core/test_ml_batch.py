"""core.ml.batch: probabilities equal the model's own scoring of the training pipeline's
feature rows, chunking changes nothing, and no bar sees a later one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.features import compute_features
from core.ml import OneBarPredictor
from core.ml.batch import batch_probabilities, model_features
from core.ml.models import ModelSpec, fit_model

FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2015-01-01", periods=700)
    close = 100 * np.exp(np.cumsum(rng.normal(2e-4, 0.012, len(idx))))
    return pd.DataFrame({"close": close}, index=idx)


@pytest.fixture(scope="module", params=["logistic", "xgboost"])
def model(request: pytest.FixtureRequest, prices: pd.DataFrame) -> object:
    X = compute_features(prices, FEATURES).dropna().iloc[:400]
    y = prices["close"].shift(-5).reindex(X.index) > prices["close"].reindex(X.index)
    return fit_model(ModelSpec(kind=request.param), X, y.astype(int).to_numpy())


def test_probabilities_equal_the_models_scoring_of_independent_feature_rows(
    model: object, prices: pd.DataFrame
) -> None:
    proba = batch_probabilities(model, prices, FEATURES)
    X = compute_features(prices, FEATURES).dropna()  # computed here, not by the module
    assert proba.index.equals(X.index) and proba.name == "probability"
    np.testing.assert_allclose(proba.to_numpy(), model.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    fast = OneBarPredictor(model)  # a numpy-only scorer, row by row
    for t in (0, 137, len(X) - 1):
        assert abs(proba.iloc[t] - fast(X.iloc[t].to_numpy())) < 1e-12


def test_chunks_change_nothing(model: object, prices: pd.DataFrame) -> None:
    whole = batch_probabilities(model, prices, FEATURES)
    chunked = batch_probabilities(model, prices, FEATURES, chunk_rows=97)
    np.testing.assert_allclose(chunked.to_numpy(), whole.to_numpy(), rtol=0, atol=1e-12)


def test_truncating_after_bar_t_leaves_the_probability_at_t_unchanged(
    model: object, prices: pd.DataFrame
) -> None:
    full = batch_probabilities(model, prices, FEATURES)
    for t in (30, 250, 499, 698):
        cut = batch_probabilities(model, prices.iloc[: t + 1], FEATURES)
        stamp = prices.index[t]
        assert cut.index[-1] == stamp
        assert cut.loc[stamp] == pytest.approx(full.loc[stamp], abs=1e-12)


def test_start_scores_later_bars_with_the_warm_up_before_it(
    model: object, prices: pd.DataFrame
) -> None:
    full = batch_probabilities(model, prices, FEATURES)
    start = prices.index[40]  # inside rsi/vol warm-up + a few bars
    late = batch_probabilities(model, prices, FEATURES, start=start)
    assert late.index[0] == start
    np.testing.assert_allclose(late.to_numpy(), full.loc[start:].to_numpy(), rtol=0, atol=1e-12)


def test_a_feature_list_that_does_not_match_the_model_is_refused(model: object) -> None:
    assert model_features(model, FEATURES) == FEATURES
    with pytest.raises(ValueError, match="fitted on features"):
        model_features(model, list(reversed(FEATURES)))
