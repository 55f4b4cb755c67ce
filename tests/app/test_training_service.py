"""Training and tuning (app/services/training.py, core/ml/training.py) and its request.

Evaluations are re-derived independently: labels from the raw closes with numpy, ROC-AUC
with scikit-learn on the probabilities the run stored, and the purge/embargo gap from
bar positions in the price index. A planted signal (AR(1) returns imported as a CSV)
must be learned; a pure random walk must not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from app.operations import Cancelled, CancelToken
from app.operations.training import TrainRequest
from app.services import runs as run_store
from app.services.data import import_upload, load_prices
from app.services.training import train
from core.config import get_settings
from core.features import compute_features
from core.registry import load_model
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)


@pytest.fixture(autouse=True)
def _on_dask(dask_client: Any) -> None:
    """The service runs its chunks on the session's 2-worker LocalCluster."""


SMALL_FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]


def _position(index: pd.DatetimeIndex, day: object) -> int:
    return int(index.get_loc(pd.Timestamp(day)))


# --------------------------------------------------------------------------- validation


def test_request_rejects_unknown_feature_by_name() -> None:
    with pytest.raises(
        ValidationError, match=r"unknown features no_such_feature; see the feature list"
    ):
        TrainRequest(kind="logistic", features=["ret_1", "no_such_feature"])


def test_request_rejects_reserved_and_unknown_model_params() -> None:
    with pytest.raises(ValidationError, match=r"\['random_state'\] are set automatically"):
        TrainRequest(kind="logistic", params={"random_state": 3})
    with pytest.raises(ValidationError, match=r"\['class_weight'\] are set automatically"):
        TrainRequest(kind="random_forest", params={"class_weight": None})
    with pytest.raises(ValidationError, match=r"logistic has no parameters \['depth'\]") as info:
        TrainRequest(kind="logistic", params={"depth": 3})
    # the message lists what is valid
    assert "'C'" in str(info.value)
    # a real parameter passes
    assert TrainRequest(kind="logistic", params={"C": 0.1}).params == {"C": 0.1}


def test_request_rejects_unknown_kind_and_extra_fields() -> None:
    with pytest.raises(ValidationError, match="kind"):
        TrainRequest(kind="svm")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="horizn"):
        TrainRequest(kind="logistic", horizn=5)  # type: ignore[call-arg]


@pytest.mark.parametrize("horizon", [0, 61, -5])
def test_request_horizon_out_of_bounds(horizon: int) -> None:
    with pytest.raises(ValidationError, match="horizon"):
        TrainRequest(kind="logistic", horizon=horizon)


@pytest.mark.parametrize("horizon", [1, 60])
def test_request_horizon_bounds_inclusive(horizon: int) -> None:
    assert TrainRequest(kind="logistic", horizon=horizon).horizon == horizon


# --------------------------------------------------------------------------- training


def test_train_logistic_sp500_saves_run_equal_to_outcome() -> None:
    prices = load_prices("ohlcv_daily", "SP500")
    steps: list[tuple[float, str]] = []
    horizon = 5
    request = TrainRequest(kind="logistic", horizon=horizon)
    outcome = train(request, progress=lambda f, m: steps.append((f, m)))

    # the saved run carries exactly the outcome's numbers
    run = run_store.get_run(outcome.run_id)
    assert run.kind == "train" and run.status == "done"
    for key in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "n", "base_rate"):
        assert run.metrics[key] == outcome.evaluation[key], key
    assert run.metrics["trials"] == outcome.trials == 1
    assert run.metrics["signal"]["sharpe"] == pytest.approx(outcome.signal_metrics["sharpe"])
    assert run.metrics["evaluation"]["confusion_matrix"] == outcome.evaluation["confusion_matrix"]
    assert run.spec["resolved_features"] == outcome.features
    assert len(outcome.features) == 44  # every feature is computable on OHLCV data

    # ROC-AUC re-derived: labels from raw closes, probabilities from the stored curves
    curves = run_store.load_frame(run, "curves")
    proba = curves["proba"].dropna()
    close = prices["close"]
    future = close.shift(-horizon) / close - 1.0
    y = (future.loc[proba.index] > 0).astype(int)
    assert len(proba) == outcome.evaluation["n"]
    assert roc_auc_score(y, proba) == pytest.approx(outcome.evaluation["roc_auc"], abs=1e-12)
    assert y.mean() == pytest.approx(outcome.evaluation["base_rate"])
    # and a real S&P 500 model is no oracle
    assert 0.4 < outcome.evaluation["roc_auc"] < 0.65

    # the stored model reproduces the stored probabilities
    model = load_model(run_store.run_folder(outcome.run_id) / "model")
    X = compute_features(prices, outcome.features).loc[proba.index]
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], proba.to_numpy(), rtol=1e-12)

    # chronological split, purged and embargoed
    idx = prices.index
    train_end, test_start = (
        _position(idx, d) for d in (outcome.train_range[1], outcome.test_range[0])
    )
    assert outcome.train_range[0] < outcome.train_range[1] < outcome.test_range[0]
    label_end = train_end + horizon  # the last training label is known at this bar
    assert test_start - label_end >= horizon, (train_end, test_start)
    # the test set runs to the last bar with a complete label window
    assert outcome.test_range[1] == idx[-1 - horizon].date()
    n_rows = (test_start - _position(idx, outcome.train_range[0])) + outcome.evaluation["n"]
    assert outcome.evaluation["n"] == n_rows - round(n_rows * 0.75)

    # the signal backtest covers exactly the test period, as does its benchmark
    assert outcome.equity.index[0] == pd.Timestamp(outcome.test_range[0])
    assert outcome.equity.index[-1] == pd.Timestamp(outcome.test_range[1])
    assert outcome.benchmark.index.equals(outcome.equity.index)
    pd.testing.assert_series_equal(curves["equity"], outcome.equity, check_names=False)

    # progress: increasing fractions ending at 1.0
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions)
    assert fractions[-1] == 1.0 and 0 < fractions[0] < 1
    assert "44 features" in steps[0][1]


def test_tuning_records_trials_and_keeps_the_study_in_the_workbench_db() -> None:
    import optuna

    steps: list[tuple[float, str]] = []
    request = TrainRequest(kind="logistic", features=SMALL_FEATURES, tune=True, n_trials=2, seed=3)
    outcome = train(request, progress=lambda f, m: steps.append((f, m)))
    assert outcome.trials == 2
    run = run_store.get_run(outcome.run_id)
    assert run.metrics["trials"] == 2

    url = get_settings().database_url
    assert url.startswith("sqlite:///") and str(get_settings().var_dir) in url
    summaries = optuna.get_all_study_summaries(storage=url)
    assert len(summaries) == 1
    study = optuna.load_study(study_name=summaries[0].study_name, storage=url)
    assert summaries[0].study_name.startswith("SP500-logistic-")
    assert len(study.trials) == 2
    # the final model uses the study's best C
    assert outcome.params["C"] == pytest.approx(study.best_params["C"])
    assert 1e-3 <= outcome.params["C"] <= 1e2

    # the same SQLite file holds the workbench's runs and Optuna's tables
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from studies")).scalar_one() == 1
            assert conn.execute(sa.text("select count(*) from trials")).scalar_one() == 2
            kinds = conn.execute(sa.text("select kind from runs")).scalars().all()
            assert kinds == ["train"]
    finally:
        engine.dispose()

    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions)
    assert fractions[-1] == 1.0
    trial_messages = [m for _, m in steps if m.startswith("Optuna trial")]
    assert [m.split(":")[0] for m in trial_messages] == ["Optuna trial 1/2", "Optuna trial 2/2"]


def _ar1_csv(phi: float, *, seed: int, n: int = 3000) -> bytes:
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, 0.01, n)
    returns = np.empty(n)
    returns[0] = shocks[0]
    for t in range(1, n):
        returns[t] = phi * returns[t - 1] + shocks[t]
    close = 100.0 * np.cumprod(1.0 + returns)
    dates = pd.bdate_range("2005-01-03", periods=n)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": close})
    return frame.to_csv(index=False).encode()


@pytest.mark.parametrize(("phi", "name"), [(0.5, "ar_half"), (0.0, "random_walk")])
def test_planted_autocorrelation_is_learned_and_noise_is_not(phi: float, name: str) -> None:
    imported = import_upload(name, f"{name}.csv", _ar1_csv(phi, seed=7))
    assert imported.rows == 3000 and imported.columns == ("close",)
    outcome = train(
        TrainRequest(dataset="uploads", symbol=name, kind="logistic", horizon=1), save=False
    )
    assert outcome.run_id is None
    assert "atr_14" not in outcome.features  # close-only data: no high/low features
    auc = outcome.evaluation["roc_auc"]

    # oracle: the last return itself scores the next return's sign on the same test rows
    close = load_prices("uploads", name)["close"]
    test = close.loc[pd.Timestamp(outcome.test_range[0]) : pd.Timestamp(outcome.test_range[1])]
    assert len(test) == outcome.evaluation["n"]
    y = (close.shift(-1) / close - 1.0 > 0).loc[test.index].astype(int)
    score = (close / close.shift(1) - 1.0).loc[test.index]
    oracle = roc_auc_score(y, score)
    if phi > 0:
        assert auc > 0.6, auc
        assert oracle > 0.6
        assert abs(auc - oracle) < 0.05, (auc, oracle)
    else:
        assert abs(auc - 0.5) < 0.06, auc
        assert abs(oracle - 0.5) < 0.06


def test_a_cancelled_training_stops_at_the_next_step_and_saves_nothing() -> None:
    token = CancelToken()
    seen: list[str] = []

    def progress(_fraction: float, message: str) -> None:
        seen.append(message)
        if message.startswith("Building dataset"):
            token.cancel("user asked")

    request = TrainRequest(kind="logistic", features=SMALL_FEATURES)
    with pytest.raises(Cancelled, match="user asked"):
        train(request, progress=progress, cancel=token)
    assert seen == ["Look-ahead check of 4 features", "Building dataset: 4 features, horizon 5"]
    assert run_store.list_runs(kind="train") == []


def test_a_restarted_tuning_job_resumes_its_study_without_rerunning_trials() -> None:
    import optuna

    request = TrainRequest(kind="logistic", features=SMALL_FEATURES, tune=True, n_trials=8, seed=3)
    token = CancelToken()

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("Optuna trial 5/8"):
            token.cancel("worker stopped")

    with pytest.raises(Cancelled):
        train(request, progress=progress, cancel=token)
    url = get_settings().database_url
    (summary,) = optuna.get_all_study_summaries(storage=url)
    first = optuna.load_study(study_name=summary.study_name, storage=url).trials
    states = optuna.trial.TrialState
    finished = (states.COMPLETE, states.PRUNED)
    told = {t.number: t.datetime_complete for t in first if t.state in finished}
    assert 5 <= len(told) < 8

    outcome = train(request)  # the same request (a retried job): the same study
    (again,) = optuna.get_all_study_summaries(storage=url)
    assert again.study_name == summary.study_name
    trials = optuna.load_study(study_name=summary.study_name, storage=url).trials
    assert len(trials) == 8 == outcome.trials and all(t.state in finished for t in trials)
    # the trials told before the stop were kept, not run again
    assert {t.number: t.datetime_complete for t in trials if t.number in told} == told
    # and the search ends where an uninterrupted one does (core, in memory, serial)
    from core.ml.dataset import make_dataset, time_split
    from core.ml.tuning import tune

    prices = load_prices("ohlcv_daily", "SP500")
    ds = make_dataset(prices, SMALL_FEATURES, horizon=5)
    train_ds = time_split(ds, test_fraction=0.25, embargo=5)[0]
    reference = tune(train_ds, "logistic", n_trials=8, seed=3)
    assert outcome.params["C"] == reference.best_params["C"]
