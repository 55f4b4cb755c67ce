"""Retention: the champion, previous champions and the best N candidates stay; the rest go."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.registry import ModelRegistry
from core.registry.promotion import request_promotion
from core.registry.retention import apply_retention, plan_retention
from core.store.db import session_scope
from core.store.models import ModelVersion
from tests.core.model_loop_fixtures import ar_prices, db, register_model

AUC = {1: 0.51, 2: 0.55, 3: 0.58, 4: 0.52, 5: 0.60, 6: 0.57, 7: 0.50}


@pytest.fixture
def seven(tmp_path: Path):
    """alpha v1..v7 (AUC above); v2 then v5 promoted (v5 champion, v2 previous); a pending
    request names v7; beta v1 alone."""
    prices = ar_prices(400, seed=1)
    engine = db(tmp_path)
    rows = {
        v: register_model(
            engine, prices, name="alpha", train_bars=300, root=tmp_path, metrics={"roc_auc": a}
        )
        for v, a in AUC.items()
    }
    register_model(engine, prices, name="beta", train_bars=300, root=tmp_path, metrics={})
    with session_scope(engine) as s:
        registry = ModelRegistry(s)
        registry.promote(rows[2].id, reason="first")
        registry.promote(rows[5].id, reason="second")
        request_promotion(s, version_id=rows[7].id, rule="a test", policy="approval")
    return engine, {v: (r, tmp_path / "models" / "alpha" / f"v{v}") for v, r in rows.items()}


def test_the_plan_keeps_champions_pending_and_the_best_n(seven) -> None:
    engine, _ = seven
    with session_scope(engine) as s:
        plan = plan_retention(s, keep=2)
    fate = {(i.name, i.version): i.action for i in plan.items}
    # others: v1 .51, v3 .58, v4 .52, v6 .57 -> keep v3, v6; delete v4, v1
    assert {k for k, a in fate.items() if a == "delete"} == {("alpha", 1), ("alpha", 4)}
    assert fate[("alpha", 5)] == fate[("alpha", 2)] == fate[("alpha", 7)] == "keep"
    assert fate[("beta", 1)] == "keep"  # ranked 1 of 1, without the metric
    why = {(i.name, i.version): i.why for i in plan.items}
    assert why[("alpha", 5)] == "the champion"
    assert why[("alpha", 2)] == "a previous champion"
    assert why[("alpha", 4)].endswith("ranked 3 of 4 (roc_auc 0.5200)")


def test_dry_run_changes_nothing_and_apply_deletes_exactly_the_plan(seven) -> None:
    engine, rows = seven
    folders = {v: folder for v, (_, folder) in rows.items()}
    assert all(f.exists() for f in folders.values())
    with session_scope(engine) as s:
        plan = plan_retention(s, keep=2)
    with session_scope(engine) as s:
        deleted = apply_retention(s, plan, actor="ops")
    assert sorted(deleted) == sorted([rows[1][0].id, rows[4][0].id])
    assert {v for v, f in folders.items() if not f.exists()} == {1, 4}
    with session_scope(engine) as s:
        registry = ModelRegistry(s)
        stages = {v.version: v.stage for v in registry.list("alpha")}
        events = [e for e in registry.events("alpha") if e["action"] == "retention_delete"]
    assert stages[1] == stages[4] == "deleted" and stages[5] == "champion"
    assert sorted(e["version_id"] for e in events) == sorted(deleted)
    assert all(
        e["actor"] == "ops" and "best 2 candidate(s) by roc_auc" in e["reason"] for e in events
    )
    with session_scope(engine) as s:  # a second run finds nothing more to delete
        assert plan_retention(s, keep=2).deletions == []
        ModelRegistry(s).rollback("alpha", reason="previous champions survive retention")
        assert ModelRegistry(s).champion("alpha").version == 2


def test_a_rolled_back_transaction_removes_no_artifact(seven) -> None:
    engine, rows = seven
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        apply_retention(s, plan_retention(s, keep=0))
        raise RuntimeError("abort")
    assert all(folder.exists() for _, folder in rows.values())
    with session_scope(engine) as s:
        assert all(v.stage != "deleted" for v in ModelRegistry(s).list())


def test_the_challenger_of_a_running_live_test_is_kept(seven) -> None:
    from core.store.model_loop import LiveTest

    engine, rows = seven
    with session_scope(engine) as s:
        s.add(
            LiveTest(
                session_id=1,
                session_name="s",
                champion="alpha@champion",
                challenger="alpha:4",
                challenger_version_id=rows[4][0].id,
                state="running",
                decision="continue",
                n=0,
                upper=2.77,
                lower=-1.56,
                delta=1e-4,
                alpha=0.05,
                beta=0.2,
                promotion="approval",
                rule="",
                last_t=-1,
                books={},
            )
        )
    with session_scope(engine) as s:
        plan = plan_retention(s, keep=2)
    why = {i.version: i.why for i in plan.items if i.name == "alpha"}
    assert why[4] == "the challenger of a running live test"
    assert {i.version for i in plan.deletions} == {1}


def test_keep_zero_and_a_lower_is_better_metric(seven) -> None:
    engine, _ = seven
    with session_scope(engine) as s:
        plan = plan_retention(s, keep=0, name="alpha")
        assert {i.version for i in plan.deletions} == {1, 3, 4, 6}
        for v in s.scalars(select(ModelVersion).where(ModelVersion.name == "alpha")):
            v.metrics = {"brier": AUC[v.version]}  # lower is better: v1 .51 and v4 .52 best
        plan = plan_retention(s, keep=2, metric="brier", name="alpha")
        assert {i.version for i in plan.deletions} == {3, 6}
        with pytest.raises(ValueError, match="keep must be >= 0"):
            plan_retention(s, keep=-1)
