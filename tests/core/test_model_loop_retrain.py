"""Live retraining acting on the registry: a trigger trains and registers a challenger,
the shadow test promotes it, probation keeps it or rolls it back; every step audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.paper.model_loop import pipeline_for
from core.pipeline import SymbolBook
from core.registry import ModelRegistry
from core.retrain.live import LiveRetrainer, LiveRetrainPolicy, retrain_observers
from core.store.db import session_scope
from core.store.retrain import RetrainDecisionRepository
from tests.core.model_loop_fixtures import ar_prices, db, event, register_model

TRAIN = 300


def _regimes(n: int, flips: list[tuple[int, float]]) -> np.ndarray:
    phi = np.full(n, 0.4)
    for start, value in flips:
        phi[start:] = value
    return phi


def _session(tmp_path: Path, prices, *, drift_at: set[int], promotion: str, policy: dict):
    engine = db(tmp_path)
    register_model(engine, prices, name="alpha", train_bars=TRAIN, root=tmp_path)
    with session_scope(engine) as s:
        ModelRegistry(s).promote(1, reason="first champion")
    config: dict[str, Any] = {
        "model": "alpha@champion",
        "train_bars": TRAIN,
        "promotion": promotion,
        "sprt_delta_bps": 5.0,
        "retrain": policy,
    }
    fired = lambda e: (e.t in drift_at, f"planted drift at bar {e.t}")  # noqa: E731
    retrainer = LiveRetrainer(config, engine=engine, drift=fired, artifacts=tmp_path / "art")
    live = pipeline_for(prices, config, symbol="SYN", engine=engine)  # the session's v1
    live.warm_up(prices.iloc[:TRAIN])
    retrainer.rebuild(TRAIN, {"SYN": prices.iloc[:TRAIN]})
    return engine, config, retrainer, live


def _run(engine, config, retrainer, live, prices, bars: range, on_bar=None) -> None:
    frames = {"SYN": prices}
    for t in bars:
        decision = live.step(dict(prices.iloc[t]), SymbolBook(equity=100_000.0))
        with session_scope(engine) as s:
            retrainer.on_bar(event(t, frames, {"SYN": decision}, config), s)
        if on_bar is not None:
            on_bar(t)


POLICY = {
    "threshold": -1e9,  # no decay trigger: the planted drift decides when
    "train_window_bars": 200,
    "horizon": 1,
    "cooldown_bars": 10,
    "probation_bars": 80,
}


def test_drift_retrains_the_shadow_test_promotes_and_probation_keeps(tmp_path: Path) -> None:
    # momentum until bar 600, mean reversion after: the champion learned momentum
    prices = ar_prices(1100, phi=_regimes(1100, [(600, -0.4)]), seed=21)
    engine, config, retrainer, live = _session(
        tmp_path, prices, drift_at={800}, promotion="auto", policy=POLICY
    )
    _run(engine, config, retrainer, live, prices, range(TRAIN, 1100))
    with session_scope(engine) as s:
        registry = ModelRegistry(s)
        versions = {v.version: v for v in registry.list("alpha")}
        assert set(versions) == {1, 2}
        v2 = versions[2]
        assert v2.stage == "champion" and versions[1].stage == "archived"
        assert v2.train_end.isoformat() <= str(prices.index[800].date())
        assert v2.metrics["trigger"] == "drift: planted drift at bar 800"
        actions = [(e["action"], e["version_id"]) for e in reversed(registry.events("alpha"))]
        decisions = [(d.decision, d.trigger) for d in RetrainDecisionRepository(s).history()]
    assert actions[-4:] == [
        ("register", v2.id),
        ("retrain", v2.id),
        ("archive", 1),
        ("promote", v2.id),
    ]
    assert decisions[::-1] == [
        ("retrained", "drift: planted drift at bar 800"),
        ("kept", "probation review after 80 bars"),
    ]


def test_a_new_champion_that_trails_its_predecessor_is_rolled_back(tmp_path: Path) -> None:
    # mean reversion only between bars 600 and 800: a challenger trained on it is wrong later
    prices = ar_prices(1100, phi=_regimes(1100, [(600, -0.4), (800, 0.4)]), seed=22)
    engine, config, retrainer, live = _session(
        tmp_path, prices, drift_at={800}, promotion="approval", policy=POLICY
    )

    def pm_promotes_early(t: int) -> None:
        if t == 801:  # a PM overrides the running test and promotes the new version
            with session_scope(engine) as s:
                ModelRegistry(s).promote(2, reason="PM override", actor="pm")

    _run(engine, config, retrainer, live, prices, range(TRAIN, 1000), pm_promotes_early)
    with session_scope(engine) as s:
        registry = ModelRegistry(s)
        assert registry.champion("alpha").version == 1
        events = registry.events("alpha")
        rollback = next(e for e in events if e["action"] == "rollback")
        assert rollback["actor"] == "retrain-policy" and rollback["version_id"] == 2
        assert "trails its predecessor" in rollback["reason"]
        (kind, numbers) = next(
            (d.decision, d.numbers) for d in RetrainDecisionRepository(s).history()
        )
    assert kind == "rolled_back"
    assert numbers["promoted_metric"] < numbers["predecessor_metric"]


def test_schedule_trigger_and_settings(tmp_path: Path) -> None:
    prices = ar_prices(700, phi=0.4, seed=23)
    policy = {**POLICY, "schedule_bars": 150, "drift": False, "cooldown_bars": 500}
    engine, config, retrainer, live = _session(
        tmp_path, prices, drift_at=set(), promotion="approval", policy=policy
    )
    _run(engine, config, retrainer, live, prices, range(TRAIN, 700))
    with session_scope(engine) as s:
        (decision,) = RetrainDecisionRepository(s).history()
        assert decision.trigger == "schedule: 150 bars since the last retraining"
        assert decision.as_of == prices.index[450].date()
    with pytest.raises(ValueError, match="acts on a champion: use --model alpha@champion"):
        LiveRetrainer({**config, "model": "alpha:1"}, engine=engine)
    assert retrain_observers({"model": "alpha@champion"}, engine=engine) == []
    assert LiveRetrainPolicy().probation_bars == 63


def test_the_default_drift_trigger_reads_monitorings_figures(tmp_path: Path) -> None:
    from core.retrain.live import report_drift

    prices = ar_prices(320, seed=1)
    bar = event(310, {"SYN": prices}, {}, {})
    assert report_drift(bar) == (False, "no drift figures yet")
    bar.report.drift.update({"psi:ret_1": 0.4, "psi:rsi_14@bear": 0.1})
    assert report_drift(bar) == (True, "PSI 0.40 on ret_1 >= 0.25")
