"""Training, tuning and the model registry (app/services/ml.py) plus roles (auth.py).

Evaluations are re-derived independently: labels from the raw closes with numpy, ROC-AUC
with scikit-learn on the probabilities the run stored, and the purge/embargo gap from
bar positions in the price index. A planted signal (AR(1) returns imported as a CSV)
must be learned; a pure random walk must not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score

from app.services import ml
from app.services import runs as run_store
from app.services.auth import LOCAL, ROLES, Actor, PermissionDenied, actor_from_env
from app.services.data import import_upload, load_prices
from core.config import get_settings
from core.features import compute_features
from core.ml import ArtifactError, load_model

SMALL_FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]
PM = Actor("pat", frozenset({"analyst", "pm"}))
ANALYST = Actor("ann", frozenset({"analyst"}))


def _position(index: pd.DatetimeIndex, day: object) -> int:
    return int(index.get_loc(pd.Timestamp(day)))


# --------------------------------------------------------------------------- validation


def test_request_rejects_unknown_feature_by_name() -> None:
    with pytest.raises(ValidationError, match=r"unknown features \['no_such_feature'\]"):
        ml.TrainRequest(kind="logistic", features=["ret_1", "no_such_feature"])


def test_request_rejects_reserved_and_unknown_model_params() -> None:
    with pytest.raises(ValidationError, match=r"\['random_state'\] are set automatically"):
        ml.TrainRequest(kind="logistic", params={"random_state": 3})
    with pytest.raises(ValidationError, match=r"\['class_weight'\] are set automatically"):
        ml.TrainRequest(kind="random_forest", params={"class_weight": None})
    with pytest.raises(ValidationError, match=r"logistic has no parameters \['depth'\]") as info:
        ml.TrainRequest(kind="logistic", params={"depth": 3})
    # the message lists what is valid
    assert "'C'" in str(info.value)
    # a real parameter passes
    assert ml.TrainRequest(kind="logistic", params={"C": 0.1}).params == {"C": 0.1}


def test_request_rejects_unknown_kind_and_extra_fields() -> None:
    with pytest.raises(ValidationError, match="kind"):
        ml.TrainRequest(kind="svm")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="horizn"):
        ml.TrainRequest(kind="logistic", horizn=5)  # type: ignore[call-arg]


@pytest.mark.parametrize("horizon", [0, 61, -5])
def test_request_horizon_out_of_bounds(horizon: int) -> None:
    with pytest.raises(ValidationError, match="horizon"):
        ml.TrainRequest(kind="logistic", horizon=horizon)


@pytest.mark.parametrize("horizon", [1, 60])
def test_request_horizon_bounds_inclusive(horizon: int) -> None:
    assert ml.TrainRequest(kind="logistic", horizon=horizon).horizon == horizon


# --------------------------------------------------------------------------- training


def test_train_logistic_sp500_saves_run_equal_to_outcome() -> None:
    prices = load_prices("ohlcv_daily", "SP500")
    steps: list[tuple[float, str]] = []
    horizon = 5
    request = ml.TrainRequest(kind="logistic", horizon=horizon)
    outcome = ml.train(request, progress=lambda f, m: steps.append((f, m)))

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
    request = ml.TrainRequest(
        kind="logistic", features=SMALL_FEATURES, tune=True, n_trials=2, seed=3
    )
    outcome = ml.train(request, progress=lambda f, m: steps.append((f, m)))
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
    outcome = ml.train(
        ml.TrainRequest(dataset="uploads", symbol=name, kind="logistic", horizon=1), save=False
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


# --------------------------------------------------------------------------- registry


def _train_small(c: float) -> int:
    outcome = ml.train(
        ml.TrainRequest(kind="logistic", features=SMALL_FEATURES, params={"C": c}, horizon=5)
    )
    assert outcome.run_id is not None
    return outcome.run_id


@pytest.fixture
def two_runs() -> tuple[int, int]:
    return _train_small(1.0), _train_small(0.01)


def _stages(name: str) -> dict[int, str]:
    return {v.version: v.stage for v in ml.list_versions(name)}


def test_registry_register_promote_rollback_with_audit_trail(
    two_runs: tuple[int, int], isolated_workbench: Path
) -> None:
    run_a, run_b = two_runs
    v1 = ml.register(run_a, "spx-logit")
    v2 = ml.register(run_b, "spx-logit")
    assert (v1.version, v1.stage, v2.version, v2.stage) == (1, "candidate", 2, "candidate")
    assert v1.kind == "logistic" and v1.features == SMALL_FEATURES
    assert v1.params["C"] == 1.0 and v2.params["C"] == 0.01
    assert v1.metrics["run_id"] == run_a
    assert v1.metrics["roc_auc"] == run_store.get_run(run_a).metrics["roc_auc"]
    assert (isolated_workbench / "models" / "spx-logit" / "v2" / "manifest.json").is_file()
    # another name numbers its versions independently
    assert ml.register(run_a, "other").version == 1
    assert [v.version for v in ml.list_versions("spx-logit")] == [2, 1]

    promoted = ml.promote(v1.id, reason="first", actor=PM)
    assert promoted.stage == "champion" and promoted.promoted_at is not None
    assert _stages("spx-logit") == {1: "champion", 2: "candidate"}
    with pytest.raises(ValueError, match="already the champion"):
        ml.promote(v1.id, actor=PM)

    ml.promote(v2.id, reason="better", actor=PM)
    assert _stages("spx-logit") == {1: "archived", 2: "champion"}

    restored = ml.rollback("spx-logit", reason="v2 misbehaves", actor=PM)
    assert (restored.id, restored.stage) == (v1.id, "champion")
    assert _stages("spx-logit") == {1: "champion", 2: "archived"}
    assert _stages("other") == {1: "candidate"}  # untouched

    trail = list(reversed(ml.events("spx-logit")))  # oldest first
    assert [(e["action"], e["version_id"], e["from"], e["to"], e["actor"]) for e in trail] == [
        ("register", v1.id, None, "candidate", "local"),
        ("register", v2.id, None, "candidate", "local"),
        ("promote", v1.id, "candidate", "champion", "pat"),
        ("archive", v1.id, "champion", "archived", "pat"),
        ("promote", v2.id, "candidate", "champion", "pat"),
        ("rollback", v2.id, "champion", "archived", "pat"),
        ("restore", v1.id, "archived", "champion", "pat"),
    ]
    assert trail[2]["reason"] == "first" and trail[-1]["reason"] == "v2 misbehaves"
    assert len(ml.events()) == len(trail) + 1  # plus the "other" registration


def test_rollback_needs_a_champion_and_an_earlier_one(two_runs: tuple[int, int]) -> None:
    v1 = ml.register(two_runs[0], "m")
    with pytest.raises(LookupError, match="has no champion to roll back"):
        ml.rollback("m", actor=PM)
    ml.promote(v1.id, actor=PM)
    with pytest.raises(LookupError, match="no earlier champion"):
        ml.rollback("m", actor=PM)
    assert _stages("m") == {1: "champion"}
    with pytest.raises(LookupError, match="no model version with id 999"):
        ml.promote(999, actor=PM)


def test_rollback_after_a_restore_returns_to_the_champion_just_replaced() -> None:
    run_id = _train_small(1.0)
    v1, v2, v3 = (ml.register(run_id, "m") for _ in range(3))
    ml.promote(v1.id, actor=PM)
    ml.promote(v2.id, actor=PM)
    assert ml.rollback("m", actor=PM).version == 1  # v2 was bad: v1 is champion again
    ml.promote(v3.id, actor=PM)  # v3 replaces v1
    # rolling v3 back must restore v1, the champion it replaced, not the rejected v2
    assert ml.rollback("m", actor=PM).version == 1
    with pytest.raises(LookupError, match="no earlier champion"):
        ml.rollback("m", actor=PM)


def test_repeated_rollbacks_walk_back_instead_of_flip_flopping() -> None:
    run_id = _train_small(1.0)
    v1, v2, v3 = (ml.register(run_id, "m") for _ in range(3))
    for version in (v1, v2, v3):
        ml.promote(version.id, actor=PM)
    assert ml.rollback("m", actor=PM).version == 2
    assert ml.rollback("m", actor=PM).version == 1
    assert _stages("m") == {1: "champion", 2: "archived", 3: "archived"}


def test_register_validates_name_run_kind_and_role(two_runs: tuple[int, int]) -> None:
    for bad in ("", "has space", "x" * 65, "a/b"):
        with pytest.raises(ValueError, match="model name"):
            ml.register(two_runs[0], bad)
    other = run_store.save_run(kind="backtest", title="bt", spec={}, metrics={}, frames={})
    with pytest.raises(ValueError, match=f"run {other} is a backtest, not a training run"):
        ml.register(other, "m")
    with pytest.raises(LookupError, match="no saved run with id 12345"):
        ml.register(12345, "m")
    with pytest.raises(PermissionDenied, match="'analyst' role"):
        ml.register(two_runs[0], "m", actor=Actor("rita", frozenset({"risk"})))
    assert ml.list_versions() == [] and ml.events() == []


def test_roles_without_pm_cannot_promote_or_roll_back(two_runs: tuple[int, int]) -> None:
    v1 = ml.register(two_runs[0], "m", actor=ANALYST)  # analysts may register
    v2 = ml.register(two_runs[1], "m", actor=ANALYST)
    ml.promote(v1.id, actor=PM)
    before_versions = [v.as_dict() for v in ml.list_versions()]
    before_events = ml.events()

    with pytest.raises(PermissionDenied, match="promoting a model needs the 'pm' role") as info:
        ml.promote(v2.id, actor=ANALYST)
    assert "ann" in str(info.value) and "analyst" in str(info.value)
    with pytest.raises(PermissionDenied, match="rolling back a model needs the 'pm' role"):
        ml.rollback("m", actor=ANALYST)
    assert isinstance(info.value, PermissionError)

    assert [v.as_dict() for v in ml.list_versions()] == before_versions
    assert ml.events() == before_events
    assert _stages("m") == {1: "champion", 2: "candidate"}


def test_load_version_predicts_like_the_trained_model(two_runs: tuple[int, int]) -> None:
    run_id = two_runs[1]
    version = ml.register(run_id, "m")
    loaded = ml.load_version(version.id)
    original = load_model(run_store.run_folder(run_id) / "model")
    prices = load_prices("ohlcv_daily", "SP500")
    X = compute_features(prices, SMALL_FEATURES).dropna()
    assert len(X) > 4500
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    # a different model (other C) predicts differently on the same rows
    other = load_model(run_store.run_folder(two_runs[0]) / "model")
    assert np.abs(other.predict_proba(X) - loaded.predict_proba(X)).max() > 1e-3
    with pytest.raises(LookupError, match="no model version with id 77"):
        ml.load_version(77)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_artifact_is_refused_and_nothing_changes(two_runs: tuple[int, int]) -> None:
    v1 = ml.register(two_runs[0], "m")
    v2 = ml.register(two_runs[1], "m")
    ml.promote(v1.id, actor=PM)
    before = _stages("m")
    events_before = ml.events()

    pipeline_file = get_settings().var_dir / "models" / "m" / "v2" / "pipeline.joblib"
    assert pipeline_file.is_file()
    _flip_byte(pipeline_file)

    with pytest.raises(ArtifactError, match="checksum mismatch") as info:
        ml.load_version(v2.id)
    assert str(pipeline_file) in str(info.value) and "restore it" in str(info.value)
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        ml.promote(v2.id, actor=PM)
    assert _stages("m") == before == {1: "champion", 2: "candidate"}
    assert ml.events() == events_before
    # the intact version still loads, and the training run's own copy is untouched
    assert ml.load_version(v1.id) is not None
    assert load_model(run_store.run_folder(two_runs[1]) / "model") is not None


def test_rollback_to_a_corrupted_champion_is_refused(two_runs: tuple[int, int]) -> None:
    v1 = ml.register(two_runs[0], "m")
    v2 = ml.register(two_runs[1], "m")
    ml.promote(v1.id, actor=PM)
    ml.promote(v2.id, actor=PM)
    (get_settings().var_dir / "models" / "m" / "v1" / "pipeline.joblib").unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        ml.rollback("m", actor=PM)
    assert _stages("m") == {1: "archived", 2: "champion"}


def test_compare_versions_side_by_side(two_runs: tuple[int, int]) -> None:
    v1 = ml.register(two_runs[0], "m")
    v2 = ml.register(two_runs[1], "m")
    table = ml.compare_versions(v1.id, v2.id)
    assert list(table.columns) == [f"#{v1.id}", f"#{v2.id}"]
    assert table.loc["name"].tolist() == ["m v1", "m v2"]
    assert table.loc["param.C"].tolist() == ["1.0", "0.01"]
    assert table.loc["features"].tolist() == ["4", "4"]
    auc1 = run_store.get_run(two_runs[0]).metrics["roc_auc"]
    assert float(table.loc["metric.roc_auc", f"#{v1.id}"]) == pytest.approx(auc1)
    with pytest.raises(LookupError, match=r"no model versions \[404\]"):
        ml.compare_versions(v1.id, 404)


# --------------------------------------------------------------------------- auth


def test_actor_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_USER", raising=False)
    monkeypatch.delenv("WORKBENCH_ROLES", raising=False)
    assert actor_from_env() is LOCAL
    assert LOCAL.local_mode and all(LOCAL.has(r) for r in ROLES)

    monkeypatch.setenv("WORKBENCH_USER", "ann")
    ann = actor_from_env()  # roles default to analyst only
    assert (ann.name, ann.roles, ann.local_mode) == ("ann", frozenset({"analyst"}), False)
    assert not ann.has("pm")

    monkeypatch.setenv("WORKBENCH_ROLES", " pm , risk ,")
    assert actor_from_env().roles == frozenset({"pm", "risk"})

    monkeypatch.setenv("WORKBENCH_ROLES", "pm,admin")
    with pytest.raises(ValueError, match=r"unknown roles \['admin'\]"):
        actor_from_env()
