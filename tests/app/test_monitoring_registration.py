"""A trained model carries its training reference into the registry: the file beside the
artifact, a row per registered version, the same rows the model was fitted on, and its
out-of-sample figures in the live metrics' terms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import registry, training
from app.services.data import load_prices
from app.services.db import get_engine
from core.ml.dataset import make_dataset, time_split
from core.monitoring.drift import drift_scores
from core.monitoring.reference import REFERENCE_FILE, read_reference, reference_for
from core.regime import LABELS, fit_regimes
from core.store.db import session_scope
from core.store.models import ModelVersion

FEATURES = ["ret_1", "rsi_14", "vol_21"]


def test_registration_stores_the_training_reference() -> None:
    request = TrainRequest(kind="logistic", features=FEATURES, symbol="AAPL")
    trained = training.train(request)
    assert trained.run_id is not None
    version = registry.register(RegisterRequest(run_id=trained.run_id, name="mon-ref"))
    with session_scope(get_engine()) as s:
        row = s.get(ModelVersion, version.id)
        assert row is not None
        folder = row.artifact_path
        stored = reference_for(s, version.id)
    on_disk = read_reference(folder)
    assert stored is not None and stored == on_disk
    assert (Path(folder) / REFERENCE_FILE).is_file()
    assert list(stored["features"]) == FEATURES and stored["horizon"] == request.horizon
    # The reference summarises exactly the training rows of the fitted model.
    prices = load_prices(request.dataset, request.symbol)
    data = make_dataset(prices, FEATURES, horizon=request.horizon, label=request.label)
    train_ds, test_ds = time_split(
        data, test_fraction=request.test_fraction, embargo=request.horizon
    )
    assert stored["n"] == len(train_ds.X)
    ret = train_ds.X["ret_1"].to_numpy()
    deciles = np.quantile(ret, np.arange(1, 10) / 10)
    assert stored["features"]["ret_1"]["edges"] == pytest.approx(list(deciles))
    # Per regime: the training rows of each regime label fitted on the training bars only
    labels = fit_regimes(prices.loc[: train_ds.X.index[-1]]).label.reindex(train_ds.X.index)
    counts = labels.value_counts()
    assert stored["regimes"] and set(stored["regimes"]) <= set(LABELS)
    for regime, summary in stored["regimes"].items():
        assert summary["ret_1"]["n"] == counts[regime] >= 30
    # OOS figures in the live metrics' names, AUC as the training evaluation measured it
    assert stored["oos"]["auc"] == pytest.approx(trained.evaluation["roc_auc"], abs=1e-9)
    assert set(stored["oos"]) >= {"hit_rate", "auc", "brier", "ece"}
    # The training rows against themselves do not drift; the test rows are scored.
    assert drift_scores(stored, train_ds.X)["psi_max"] < 1e-6
    assert np.isfinite(drift_scores(stored, test_ds.X)["psi_max"])
