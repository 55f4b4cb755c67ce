"""core/registry: ModelRegistry's state machine over a migrated SQLite database, with tiny
fitted models; the artifact copy lives and dies with the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from core.ml import ModelSpec, fit_model
from core.registry import (
    ArtifactError,
    Candidate,
    ModelRegistry,
    compare_table,
    save_model,
    validate_name,
)
from core.store.db import make_engine, session_scope, upgrade
from core.store.models import ModelEvent, ModelVersion


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    """A saved logistic model on two features (200 seeded rows)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 2)), columns=["ret_1", "rsi_14"])
    y = (X["ret_1"] + rng.normal(size=200) > 0).astype(int)
    save_model(fit_model(ModelSpec(kind="logistic"), X, y), tmp_path / "run" / "model")
    return tmp_path / "run" / "model"


def _candidate(run_id: int = 7) -> Candidate:
    return Candidate.from_training_run(
        run_id,
        kind="train",
        spec={
            "kind": "logistic",
            "dataset": "synthetic",
            "symbol": "seed-0",
            "resolved_params": {"C": 1.0},
            "resolved_features": ["ret_1", "rsi_14"],
        },
        metrics={
            "roc_auc": 0.61,
            "train_range": ["2020-01-01", "2020-12-31"],
            "data_hash": "ab" * 32,
            "signal": {"sharpe": 0.4},
        },
    )


def _count(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_candidate_from_a_training_run_and_names() -> None:
    c = _candidate()
    assert (c.kind, c.dataset, c.features) == ("logistic", "synthetic/seed-0", ["ret_1", "rsi_14"])
    assert (c.train_start, c.train_end) == (date(2020, 1, 1), date(2020, 12, 31))
    assert c.metrics["roc_auc"] == 0.61 and c.metrics["signal_sharpe"] == 0.4
    assert c.metrics["run_id"] == 7 and c.metrics["pr_auc"] is None
    with pytest.raises(ValueError, match="run 3 is a backtest, not a training run"):
        Candidate.from_training_run(3, kind="backtest", spec={}, metrics={})
    assert validate_name("a-b_c9") == "a-b_c9"
    for bad in ("", "x" * 65, "has space", "a/b", "---"):
        with pytest.raises(ValueError, match="model name"):
            validate_name(bad)


def test_register_promote_rollback_walk_the_champion_stack(
    engine: Engine, artifact: Path, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    with session_scope(engine) as s:
        reg = ModelRegistry(s, root=root)
        v1, v2, v3 = (reg.register("m", _candidate(), source=artifact) for _ in range(3))
    assert [v.version for v in (v1, v2, v3)] == [1, 2, 3]
    assert (root / "m" / "v3" / "manifest.json").is_file()
    with session_scope(engine) as s:
        reg = ModelRegistry(s, root=root)
        assert reg.champion("m") is None
        for v in (v1, v2, v3):
            reg.promote(v.id, reason=f"v{v.version}", actor="pat")
        assert reg.champion("m") == reg.get(v3.id)
        assert [v.stage for v in reg.list("m")] == ["champion", "archived", "archived"]
        assert reg.rollback("m", actor="pat").version == 2
        assert reg.rollback("m", actor="pat").version == 1
        with pytest.raises(LookupError, match="no earlier champion"):
            reg.rollback("m")
        actions = [(e["action"], e["version_id"]) for e in reversed(reg.events("m"))]
    assert actions[:3] == [("register", v1.id), ("register", v2.id), ("register", v3.id)]
    assert actions[-4:] == [
        ("rollback", v3.id),
        ("restore", v2.id),
        ("rollback", v2.id),
        ("restore", v1.id),
    ]
    with session_scope(engine) as s:
        reg = ModelRegistry(s, root=root)
        table = reg.compare(v1.id, v3.id)
        assert table.equals(compare_table(reg.get(v1.id), reg.get(v3.id)))
    assert table.loc["name"].tolist() == ["m v1", "m v3"]
    assert table.loc["stage"].tolist() == ["champion", "archived"]


def test_a_rolled_back_transaction_removes_the_copied_artifact(
    engine: Engine, artifact: Path, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    with pytest.raises(RuntimeError, match="later failure"), session_scope(engine) as s:
        ModelRegistry(s, root=root).register("m", _candidate(), source=artifact)
        assert (root / "m" / "v1" / "manifest.json").is_file()
        raise RuntimeError("later failure in the same transaction")
    assert not (root / "m" / "v1").exists()
    assert _count(engine, ModelVersion) == _count(engine, ModelEvent) == 0
    # a committed registration keeps its folder
    with session_scope(engine) as s:
        ModelRegistry(s, root=root).register("m", _candidate(), source=artifact)
    assert (root / "m" / "v1" / "manifest.json").is_file()


def test_a_corrupted_artifact_is_refused_before_anything_changes(
    engine: Engine, artifact: Path, tmp_path: Path
) -> None:
    root = tmp_path / "models"
    with session_scope(engine) as s:
        v1 = ModelRegistry(s, root=root).register("m", _candidate(), source=artifact)
    pipeline = root / "m" / "v1" / "pipeline.joblib"
    data = bytearray(pipeline.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pipeline.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="checksum mismatch"), session_scope(engine) as s:
        ModelRegistry(s, root=root).promote(v1.id)
    with session_scope(engine) as s:
        reg = ModelRegistry(s, root=root)
        assert reg.get(v1.id).stage == "candidate"
        assert [e["action"] for e in reg.events()] == ["register"]
        with pytest.raises(ArtifactError, match="checksum mismatch"):
            reg.load(v1.id)
        with pytest.raises(LookupError, match="no model version with id 99"):
            reg.get(99)
