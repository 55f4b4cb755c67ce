"""The model registry service (app/services/registry.py over core/registry): register,
promote and roll back with an audit trail, roles, checksums and comparison.

Models come from real (small) training runs; stages and events are read back through the
service, and artifacts on disk are corrupted byte by byte to check the refusals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.operations.registry import (
    PromoteRequest,
    RegisterRequest,
    RollbackRequest,
    VersionsRequest,
)
from app.operations.training import TrainRequest
from app.services import registry
from app.services import runs as run_store
from app.services.auth import Actor, PermissionDenied
from app.services.data import load_prices
from app.services.training import train
from core.config import get_settings
from core.features import compute_features
from core.registry import AlreadyRegistered, ArtifactError, load_model

SMALL_FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]
PM = Actor("pat", frozenset({"analyst", "pm"}))
ANALYST = Actor("ann", frozenset({"analyst"}))


def _train_small(c: float) -> int:
    outcome = train(
        TrainRequest(kind="logistic", features=SMALL_FEATURES, params={"C": c}, horizon=5)
    )
    assert outcome.run_id is not None
    return outcome.run_id


@pytest.fixture
def two_runs() -> tuple[int, int]:
    return _train_small(1.0), _train_small(0.01)


def _stages(name: str) -> dict[int, str]:
    return {v.version: v.stage for v in registry.list_versions(VersionsRequest(name=name))}


def test_registry_register_promote_rollback_with_audit_trail(
    two_runs: tuple[int, int], isolated_workbench: Path
) -> None:
    run_a, run_b = two_runs
    v1 = registry.register(RegisterRequest(run_id=run_a, name="spx-logit"))
    v2 = registry.register(RegisterRequest(run_id=run_b, name="spx-logit"))
    assert (v1.version, v1.stage, v2.version, v2.stage) == (1, "candidate", 2, "candidate")
    assert v1.kind == "logistic" and v1.features == SMALL_FEATURES
    assert v1.params["C"] == 1.0 and v2.params["C"] == 0.01
    assert v1.metrics["run_id"] == run_a
    assert v1.metrics["roc_auc"] == run_store.get_run(run_a).metrics["roc_auc"]
    assert (isolated_workbench / "models" / "spx-logit" / "v2" / "manifest.json").is_file()
    # another name numbers its versions independently
    other = registry.register(RegisterRequest(run_id=_train_small(0.1), name="other"))
    assert other.version == 1
    assert [v.version for v in registry.list_versions(VersionsRequest(name="spx-logit"))] == [2, 1]

    promoted = registry.promote(PromoteRequest(version_id=v1.id, reason="first"), actor=PM)
    assert promoted.stage == "champion" and promoted.promoted_at is not None
    assert _stages("spx-logit") == {1: "champion", 2: "candidate"}
    with pytest.raises(ValueError, match="already the champion"):
        registry.promote(PromoteRequest(version_id=v1.id), actor=PM)

    registry.promote(PromoteRequest(version_id=v2.id, reason="better"), actor=PM)
    assert _stages("spx-logit") == {1: "archived", 2: "champion"}

    restored = registry.rollback(
        RollbackRequest(name="spx-logit", reason="v2 misbehaves"), actor=PM
    )
    assert (restored.id, restored.stage) == (v1.id, "champion")
    assert _stages("spx-logit") == {1: "champion", 2: "archived"}
    assert _stages("other") == {1: "candidate"}  # untouched

    trail = list(reversed(registry.events("spx-logit")))  # oldest first
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
    assert len(registry.events()) == len(trail) + 1  # plus the "other" registration


def test_rollback_needs_a_champion_and_an_earlier_one(two_runs: tuple[int, int]) -> None:
    v1 = registry.register(RegisterRequest(run_id=two_runs[0], name="m"))
    with pytest.raises(LookupError, match="has no champion to roll back"):
        registry.rollback(RollbackRequest(name="m"), actor=PM)
    registry.promote(PromoteRequest(version_id=v1.id), actor=PM)
    with pytest.raises(LookupError, match="no earlier champion"):
        registry.rollback(RollbackRequest(name="m"), actor=PM)
    assert _stages("m") == {1: "champion"}
    with pytest.raises(LookupError, match="no model version with id 999"):
        registry.promote(PromoteRequest(version_id=999), actor=PM)


def test_rollback_after_a_restore_returns_to_the_champion_just_replaced() -> None:
    v1, v2, v3 = (
        registry.register(RegisterRequest(run_id=_train_small(c), name="m"))
        for c in (1.0, 0.1, 0.01)
    )
    registry.promote(PromoteRequest(version_id=v1.id), actor=PM)
    registry.promote(PromoteRequest(version_id=v2.id), actor=PM)
    assert (
        registry.rollback(RollbackRequest(name="m"), actor=PM).version == 1
    )  # v2 was bad: v1 is champion again
    registry.promote(PromoteRequest(version_id=v3.id), actor=PM)  # v3 replaces v1
    # rolling v3 back must restore v1, the champion it replaced, not the rejected v2
    assert registry.rollback(RollbackRequest(name="m"), actor=PM).version == 1
    with pytest.raises(LookupError, match="no earlier champion"):
        registry.rollback(RollbackRequest(name="m"), actor=PM)


def test_repeated_rollbacks_walk_back_instead_of_flip_flopping() -> None:
    v1, v2, v3 = (
        registry.register(RegisterRequest(run_id=_train_small(c), name="m"))
        for c in (1.0, 0.1, 0.01)
    )
    for version in (v1, v2, v3):
        registry.promote(PromoteRequest(version_id=version.id), actor=PM)
    assert registry.rollback(RollbackRequest(name="m"), actor=PM).version == 2
    assert registry.rollback(RollbackRequest(name="m"), actor=PM).version == 1
    assert _stages("m") == {1: "champion", 2: "archived", 3: "archived"}


def test_register_validates_name_run_kind_and_role(two_runs: tuple[int, int]) -> None:
    for bad in ("", "has space", "x" * 65, "a/b"):
        with pytest.raises(ValueError, match="model name"):
            registry.register(RegisterRequest(run_id=two_runs[0], name=bad))
    other = run_store.save_run(kind="backtest", title="bt", spec={}, metrics={}, frames={})
    with pytest.raises(ValueError, match=f"run {other} is a backtest, not a training run"):
        registry.register(RegisterRequest(run_id=other, name="m"))
    with pytest.raises(LookupError, match="no saved run with id 12345"):
        registry.register(RegisterRequest(run_id=12345, name="m"))
    with pytest.raises(PermissionDenied, match="'analyst' role"):
        registry.register(
            RegisterRequest(run_id=two_runs[0], name="m"), actor=Actor("rita", frozenset({"risk"}))
        )
    assert registry.list_versions() == [] and registry.events() == []


def test_registering_a_run_twice_is_refused_naming_the_version_that_holds_it(
    two_runs: tuple[int, int],
) -> None:
    v1 = registry.register(RegisterRequest(run_id=two_runs[0], name="spx-logit"))
    before = registry.events()
    for name in ("spx-logit", "another-name"):  # one run is one version, whatever the name
        with pytest.raises(AlreadyRegistered) as refused:
            registry.register(RegisterRequest(run_id=two_runs[0], name=name))
        assert str(refused.value) == (
            f"Training run #{two_runs[0]} is already registered as spx-logit v1 (candidate); "
            "promote or compare that version instead of registering the run again."
        )
        assert isinstance(refused.value, ValueError) and refused.value.holder.id == v1.id
    assert [v.id for v in registry.list_versions()] == [v1.id]
    assert registry.events() == before
    assert not (get_settings().var_dir / "models" / "another-name").exists()
    # the other run still registers, as version 2 of the name
    assert registry.register(RegisterRequest(run_id=two_runs[1], name="spx-logit")).version == 2


def test_roles_without_pm_cannot_promote_or_roll_back(two_runs: tuple[int, int]) -> None:
    v1 = registry.register(
        RegisterRequest(run_id=two_runs[0], name="m"), actor=ANALYST
    )  # analysts may register
    v2 = registry.register(RegisterRequest(run_id=two_runs[1], name="m"), actor=ANALYST)
    registry.promote(PromoteRequest(version_id=v1.id), actor=PM)
    before_versions = [v.as_dict() for v in registry.list_versions()]
    before_events = registry.events()

    with pytest.raises(PermissionDenied, match="promoting a model needs the 'pm' role") as info:
        registry.promote(PromoteRequest(version_id=v2.id), actor=ANALYST)
    assert "ann" in str(info.value) and "analyst" in str(info.value)
    with pytest.raises(PermissionDenied, match="rolling back a model needs the 'pm' role"):
        registry.rollback(RollbackRequest(name="m"), actor=ANALYST)
    assert isinstance(info.value, PermissionError)

    assert [v.as_dict() for v in registry.list_versions()] == before_versions
    assert registry.events() == before_events
    assert _stages("m") == {1: "champion", 2: "candidate"}


def test_load_version_predicts_like_the_trained_model(two_runs: tuple[int, int]) -> None:
    run_id = two_runs[1]
    version = registry.register(RegisterRequest(run_id=run_id, name="m"))
    loaded = registry.load_version(version.id)
    original = load_model(run_store.run_folder(run_id) / "model")
    prices = load_prices("ohlcv_daily", "SP500")
    X = compute_features(prices, SMALL_FEATURES).dropna()
    assert len(X) > 4500
    np.testing.assert_array_equal(loaded.predict_proba(X), original.predict_proba(X))
    # a different model (other C) predicts differently on the same rows
    other = load_model(run_store.run_folder(two_runs[0]) / "model")
    assert np.abs(other.predict_proba(X) - loaded.predict_proba(X)).max() > 1e-3
    with pytest.raises(LookupError, match="no model version with id 77"):
        registry.load_version(77)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupted_artifact_is_refused_and_nothing_changes(two_runs: tuple[int, int]) -> None:
    v1 = registry.register(RegisterRequest(run_id=two_runs[0], name="m"))
    v2 = registry.register(RegisterRequest(run_id=two_runs[1], name="m"))
    registry.promote(PromoteRequest(version_id=v1.id), actor=PM)
    before = _stages("m")
    events_before = registry.events()

    pipeline_file = get_settings().var_dir / "models" / "m" / "v2" / "pipeline.joblib"
    assert pipeline_file.is_file()
    _flip_byte(pipeline_file)

    with pytest.raises(ArtifactError, match="checksum mismatch") as info:
        registry.load_version(v2.id)
    assert str(pipeline_file) in str(info.value) and "restore it" in str(info.value)
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        registry.promote(PromoteRequest(version_id=v2.id), actor=PM)
    assert _stages("m") == before == {1: "champion", 2: "candidate"}
    assert registry.events() == events_before
    # the intact version still loads, and the training run's own copy is untouched
    assert registry.load_version(v1.id) is not None
    assert load_model(run_store.run_folder(two_runs[1]) / "model") is not None


def test_rollback_to_a_corrupted_champion_is_refused(two_runs: tuple[int, int]) -> None:
    v1 = registry.register(RegisterRequest(run_id=two_runs[0], name="m"))
    v2 = registry.register(RegisterRequest(run_id=two_runs[1], name="m"))
    registry.promote(PromoteRequest(version_id=v1.id), actor=PM)
    registry.promote(PromoteRequest(version_id=v2.id), actor=PM)
    (get_settings().var_dir / "models" / "m" / "v1" / "pipeline.joblib").unlink()
    with pytest.raises(ArtifactError, match="is missing"):
        registry.rollback(RollbackRequest(name="m"), actor=PM)
    assert _stages("m") == {1: "archived", 2: "champion"}


def test_compare_versions_side_by_side(two_runs: tuple[int, int]) -> None:
    v1 = registry.register(RegisterRequest(run_id=two_runs[0], name="m"))
    v2 = registry.register(RegisterRequest(run_id=two_runs[1], name="m"))
    table = registry.compare_versions(v1.id, v2.id)
    assert list(table.columns) == [f"#{v1.id}", f"#{v2.id}"]
    assert table.loc["name"].tolist() == ["m v1", "m v2"]
    assert table.loc["param.C"].tolist() == ["1.0", "0.01"]
    assert table.loc["features"].tolist() == ["4", "4"]
    auc1 = run_store.get_run(two_runs[0]).metrics["roc_auc"]
    assert float(table.loc["metric.roc_auc", f"#{v1.id}"]) == pytest.approx(auc1)
    with pytest.raises(LookupError, match=r"no model versions \[404\]"):
        registry.compare_versions(v1.id, 404)
