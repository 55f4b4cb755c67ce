"""The shadow challenger and the live SPRT: planted effects, fills, restart, promotion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from core.paper.model_loop import shadow_observers
from core.paper.shadow import ShadowChallenger
from core.pipeline import SymbolBook
from core.registry import ModelRegistry
from core.registry.promotion import approve, reject
from core.store.db import session_scope
from core.store.model_loop import LiveTest, LiveTestPoint, ModelLoopRepository, ShadowOrder
from tests.core.model_loop_fixtures import ar_prices, db, event, flat, register_model

TRAIN = 300


def _run(
    engine: Engine,
    observer: ShadowChallenger,
    frames: dict[str, pd.DataFrame],
    config: dict[str, Any],
    bars: range,
    decisions: Any = None,
) -> None:
    symbols = list(frames)
    observer.rebuild(bars.start, {s: f.iloc[: bars.start] for s, f in frames.items()})
    for t in bars:
        live = decisions(t) if decisions is not None else flat(symbols)
        with session_scope(engine) as s:
            observer.on_bar(event(t, frames, live, config), s)


def _test_row(engine: Engine) -> LiveTest:
    with session_scope(engine) as s:
        (test,) = ModelLoopRepository(s).tests()
        s.expunge(test)
        return test


@pytest.fixture
def edge(tmp_path: Path) -> tuple[Engine, dict[str, pd.DataFrame]]:
    """Prices with a planted edge (AR(1) returns, phi 0.4) and a model that learned it."""
    prices = ar_prices(1100, phi=0.4, seed=11)
    engine = db(tmp_path)
    register_model(engine, prices, name="alpha", train_bars=TRAIN, root=tmp_path)
    return engine, {"SYN": prices}


CONFIG = {"challenger": "alpha:1", "train_bars": TRAIN, "sprt_delta_bps": 2.0}
DECIDE = range(TRAIN, 800)
"""Bars for the edge's SPRT to decide on: it accepts H1 after 224 of these 500."""


def test_a_truly_better_challenger_is_accepted_and_auto_promoted(edge) -> None:
    engine, frames = edge
    config = {**CONFIG, "promotion": "auto"}
    (observer,) = shadow_observers(config, engine=engine)
    _run(engine, observer, frames, config, DECIDE)
    test = _test_row(engine)
    assert test.decision == "accept_h1" and test.state == "decided"
    assert test.log_lr >= test.upper
    assert "accept H1" in test.rule and "Wald SPRT" in test.rule
    with session_scope(engine) as s:
        registry = ModelRegistry(s)
        assert registry.champion("alpha").version == 1
        promote = [e for e in registry.events("alpha") if e["action"] == "promote"]
        assert len(promote) == 1 and promote[0]["actor"] == "model-loop"
        assert promote[0]["reason"].startswith(f"auto promotion: live test #{test.id}")
        (request,) = ModelLoopRepository(s).promotion_requests()
        assert request.status == "promoted"
        points = ModelLoopRepository(s).points(test.id)
    # the stored path is the SPRT of the stored returns, recomputed from scratch
    diffs = np.array([p.challenger_return - p.champion_return for p in points])
    from core.abtest.sequential import SPRT

    run = SPRT(delta=2e-4).run(diffs)
    assert run.decision == "accept_h1" and run.n_used == test.n
    path = np.array([np.nan if p.log_lr is None else p.log_lr for p in points[: test.n]])
    np.testing.assert_allclose(path, run.log_lr, rtol=1e-9, equal_nan=True)
    assert all(p.champion_return == 0.0 for p in points)  # the flat champion earns nothing


def test_identical_models_never_decide(edge) -> None:
    engine, frames = edge
    config = {**CONFIG, "model": "alpha:1", "promotion": "auto"}
    (observer,) = shadow_observers(config, engine=engine)
    # the live pipeline: the same model, stepped on a book of the champion's own
    from core.paper.model_loop import pipeline_for

    live = pipeline_for(frames["SYN"], config, symbol="SYN", engine=engine)
    live.warm_up(frames["SYN"].iloc[:TRAIN])
    equity = 100_000.0

    def decisions(t: int) -> dict[str, Any]:
        return {"SYN": live.step(dict(frames["SYN"].iloc[t]), SymbolBook(equity=equity))}

    _run(engine, observer, frames, config, range(TRAIN, 800), decisions)
    test = _test_row(engine)
    assert test.decision == "continue" and test.state == "running" and test.n == 499
    with session_scope(engine) as s:
        assert ModelLoopRepository(s).promotion_requests() == []
        assert ModelRegistry(s).champion("alpha") is None
        points = ModelLoopRepository(s).points(test.id)
    assert all(p.champion_return == p.challenger_return for p in points)


def test_a_challenger_without_edge_is_not_promoted(tmp_path: Path) -> None:
    prices = ar_prices(900, phi=0.0, seed=5)
    engine = db(tmp_path)
    register_model(engine, prices, name="beta", train_bars=TRAIN, root=tmp_path)
    config = {"challenger": "beta:1", "train_bars": TRAIN, "promotion": "auto"}
    (observer,) = shadow_observers(config, engine=engine)
    _run(engine, observer, {"SYN": prices}, config, range(TRAIN, 900))
    test = _test_row(engine)
    assert test.decision in ("accept_h0", "continue")
    with session_scope(engine) as s:
        assert ModelRegistry(s).champion("beta") is None
        assert ModelLoopRepository(s).promotion_requests() == []


def test_approval_waits_for_a_pm_then_promotes_or_rejects(edge, tmp_path: Path) -> None:
    engine, frames = edge
    config = {**CONFIG, "promotion": "approval"}
    (observer,) = shadow_observers(config, engine=engine)
    _run(engine, observer, frames, config, DECIDE)
    with session_scope(engine) as s:
        (request,) = ModelLoopRepository(s).promotion_requests()
        assert request.status == "pending" and request.model_name == "alpha"
        assert ModelRegistry(s).champion("alpha") is None
        (pending,) = [
            e for e in ModelRegistry(s).events("alpha") if e["action"] == "request_promote"
        ]
        assert "pending PM approval: live test" in pending["reason"]
        request_id = request.id
    with session_scope(engine) as s:
        approve(s, request_id, actor="pm-ann", reason="looks right")
    with session_scope(engine) as s:
        assert ModelRegistry(s).champion("alpha").version == 1
        (promote,) = [e for e in ModelRegistry(s).events("alpha") if e["action"] == "promote"]
        assert promote["actor"] == "pm-ann"
        assert promote["reason"].startswith("approved by pm-ann: looks right; live test #")
        with pytest.raises(ValueError, match="already approved"):
            reject(s, request_id, actor="pm-bob")
    # a second request, rejected: audited, nothing promoted
    from core.registry.promotion import request_promotion

    v2 = register_model(
        engine, frames["SYN"], name="alpha", train_bars=TRAIN, root=tmp_path, seed=1
    )
    with session_scope(engine) as s:
        second = request_promotion(s, version_id=v2.id, rule="a rule", policy="approval").id
    with session_scope(engine) as s:
        reject(s, second, actor="pm-bob", reason="not now")
        assert ModelRegistry(s).champion("alpha").version == 1
        events = ModelRegistry(s).events("alpha")
        assert (
            events[0]["action"] == "reject_promote"
            and "rejected by pm-bob: not now" in events[0]["reason"]
        )


def test_shadow_orders_fill_at_the_next_open_with_costs(edge) -> None:
    engine, frames = edge
    config = {**CONFIG, "fees": 0.001, "slippage": 0.002, "initial_cash": 50_000.0}
    (observer,) = shadow_observers(config, engine=engine)
    _run(engine, observer, frames, config, range(TRAIN, 420))
    prices = frames["SYN"]
    with session_scope(engine) as s:
        test = ModelLoopRepository(s).tests()[0]
        orders = ModelLoopRepository(s).orders(test.id, book="challenger")
        points = ModelLoopRepository(s).points(test.id)
    assert len(orders) > 50
    cash, shares = 50_000.0, 0.0
    equity = {}
    by_fill: dict[int, list[ShadowOrder]] = {}
    for o in orders:
        if o.fill_t is not None:
            assert o.fill_t == o.t + 1
            side = 1.0 if o.qty > 0 else -1.0
            expected = prices["open"].iloc[o.t + 1] * (1 + side * 0.002)
            assert o.fill_price == pytest.approx(expected, rel=1e-12)
            assert o.fee == pytest.approx(0.001 * abs(o.qty) * expected, rel=1e-12)
            by_fill.setdefault(o.fill_t, []).append(o)
        assert o.price == prices["close"].iloc[o.t]
    for t in range(TRAIN, 420):
        for o in by_fill.get(t, []):
            cash -= o.qty * o.fill_price + o.fee
            shares += o.qty
        equity[t] = cash + shares * prices["close"].iloc[t]
    for p in points:
        assert p.challenger_return == pytest.approx(equity[p.t] / equity[p.t - 1] - 1, abs=1e-12)


def test_a_restart_continues_the_same_test(edge, tmp_path: Path) -> None:
    engine, frames = edge
    config = {**CONFIG, "promotion": "approval"}
    (one,) = shadow_observers(config, engine=engine)
    _run(engine, one, frames, config, range(TRAIN, 360))
    (two,) = shadow_observers(config, engine=engine)  # a restarted worker
    _run(engine, two, frames, config, range(360, 450))
    with session_scope(engine) as s:
        resumed = [(p.t, p.challenger_return, p.log_lr) for p in ModelLoopRepository(s).points(1)]
        assert s.scalar(select(func.count()).select_from(LiveTest)) == 1

    other = db(tmp_path / "other")
    register_model(other, frames["SYN"], name="alpha", train_bars=TRAIN, root=tmp_path / "other")
    (whole,) = shadow_observers(config, engine=other)
    _run(other, whole, frames, config, range(TRAIN, 450))
    with session_scope(other) as s:
        straight = [(p.t, p.challenger_return, p.log_lr) for p in ModelLoopRepository(s).points(1)]
    assert resumed == straight
    # a bar seen twice (the worker retried it) is not counted twice
    with session_scope(engine) as s:
        two.on_bar(event(449, frames, flat(["SYN"]), config), s)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(LiveTestPoint)) == len(straight)


def test_bad_settings_fail_before_any_bar(edge) -> None:
    engine, _ = edge
    with pytest.raises(ValueError, match="promotion must be 'auto' or 'approval'"):
        ShadowChallenger({**CONFIG, "promotion": "sometimes"}, engine=engine)
    with pytest.raises(ValueError, match="write NAME:VERSION"):
        ShadowChallenger({**CONFIG, "challenger": "alpha"}, engine=engine)
    assert shadow_observers({"train_bars": TRAIN}, engine=engine) == []
