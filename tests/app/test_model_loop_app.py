"""The model in the loop through the services: a registered model trades, a challenger
runs in shadow (never reaching the broker), the SPRT's promotion waits for a PM, and
retention runs from the service and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from app.operations.paper import PaperRequest
from app.operations.registry import (
    DecidePromotionRequest,
    LiveTestsRequest,
    PromoteRequest,
    RegisterRequest,
    RetainRequest,
)
from app.operations.training import TrainRequest
from app.services import paper, registry, registry_loop
from app.services.auth import Actor, PermissionDenied
from app.services.db import get_engine
from app.services.training import train
from core.registry.promotion import request_promotion
from core.store.db import session_scope
from core.store.model_loop import ShadowOrder
from core.store.trading import TradingFill, TradingOrder
from tests.cli_helpers import run_cli

SYMBOLS = ["AAPL", "MSFT"]
FEATURES_A = ["ret_1", "ret_5", "rsi_14", "vol_21"]
FEATURES_B = ["ret_1", "zscore_20", "macd_hist", "atr_14", "sma_dist_50"]


def _register(name: str, features: list[str], kind: str = "logistic") -> int:
    outcome = train(TrainRequest(kind=kind, features=features, symbol="AAPL"))
    assert outcome.run_id is not None
    return registry.register(RegisterRequest(run_id=outcome.run_id, name=name)).id


def _ledger(session: str) -> list[tuple]:
    with session_scope(get_engine()) as s:
        orders = s.scalars(select(TradingOrder).order_by(TradingOrder.id)).all()
        mine = [o for o in orders if session in o.client_order_id]
        fills = s.scalars(select(TradingFill).order_by(TradingFill.id)).all()
        filled = {f.order_id: (f.qty, round(f.price, 8)) for f in fills}
        return [(o.symbol, o.side, o.qty, o.status, filled.get(o.id)) for o in mine]


def test_a_model_trades_and_its_shadow_challenger_never_reaches_the_broker() -> None:
    champion = _register("alpha", FEATURES_A)
    challenger = _register("alpha", FEATURES_B)
    registry.promote(PromoteRequest(version_id=champion, reason="first champion"))
    common = {"symbols": SYMBOLS, "model": "alpha@champion", "train_bars": 300}
    alone = paper.run_worker(PaperRequest(session="alone", **common), steps=80)
    shadowed = paper.run_worker(
        PaperRequest(session="shadowed", challenger="alpha:2", **common), steps=80
    )
    assert alone["cycles"] == shadowed["cycles"] == 80
    assert alone["orders"] > 0
    # the same orders and fills, to the share and the cent, with or without the shadow
    assert _ledger("alone") == _ledger("shadowed") != []
    (test,) = registry_loop.live_tests(LiveTestsRequest(path=True))
    assert test.session == "shadowed" and test.challenger == "alpha:2"
    assert test.challenger_version_id == challenger and test.champion == "alpha@champion"
    assert len(test.path) == 79 and test.n == 79
    with session_scope(get_engine()) as s:
        shadow = s.scalars(select(ShadowOrder)).all()
    assert {o.book for o in shadow} == {"champion", "challenger"}
    assert {o.symbol for o in shadow} == set(SYMBOLS)


def test_pending_promotions_need_a_pm_and_are_audited() -> None:
    version = _register("beta", FEATURES_A)
    with session_scope(get_engine()) as s:
        request_promotion(s, version_id=version, rule="live test #9: accept H1", policy="approval")
    (pending,) = registry_loop.promotion_requests()
    analyst = Actor("ann", frozenset({"analyst"}))
    with pytest.raises(PermissionDenied, match="approving a promotion needs the 'pm' role"):
        registry_loop.approve_promotion(
            DecidePromotionRequest(request_id=pending["id"]), actor=analyst
        )
    pm = Actor("pat", frozenset({"pm"}))
    done = registry_loop.approve_promotion(
        DecidePromotionRequest(request_id=pending["id"], reason="ok"), actor=pm
    )
    assert done["status"] == "approved" and done["decided_by"] == "pat"
    assert registry_loop.promotion_requests() == []
    (row,) = registry.list_versions()
    assert row.stage == "champion"
    promote = next(e for e in registry.events("beta") if e["action"] == "promote")
    assert promote["actor"] == "pat" and "live test #9: accept H1" in promote["reason"]


def test_retention_from_the_service_and_the_cli(isolated_workbench: Path) -> None:
    ids = [_register("gamma", FEATURES_A) for _ in range(3)]
    registry.promote(PromoteRequest(version_id=ids[0], reason="champion"))
    dry = registry_loop.retain(RetainRequest(keep=0, dry_run=True))
    assert sorted(i.id for i in dry.deletions) == ids[1:]
    assert all(v.stage != "deleted" for v in registry.list_versions())
    out = run_cli("registry", "retain", "--keep", "1", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert [d["id"] for d in payload["deleted"]] == [ids[1]]  # same AUC: the newest stays
    stages = {v.id: v.stage for v in registry.list_versions()}
    assert stages == {ids[0]: "champion", ids[1]: "deleted", ids[2]: "candidate"}
    (event,) = [e for e in registry.events("gamma") if e["action"] == "retention_delete"]
    assert event["version_id"] == ids[1] and "ranked 2 of 2" in event["reason"]


def test_promotions_and_approve_from_the_cli(isolated_workbench: Path) -> None:
    version = _register("delta", FEATURES_A)
    with session_scope(get_engine()) as s:
        request_promotion(s, version_id=version, rule="live test #3: accept H1", policy="approval")
    out = run_cli("registry", "promotions", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    (pending,) = json.loads(out.stdout)["requests"]
    assert pending["status"] == "pending" and pending["rule"] == "live test #3: accept H1"
    out = run_cli(
        "registry",
        "approve",
        str(pending["id"]),
        "--reason",
        "ok",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "approved"
    (row,) = registry.list_versions()
    assert row.stage == "champion"
    out = run_cli("registry", "tests", "--json", var=isolated_workbench)
    assert out.returncode == 0 and json.loads(out.stdout) == {"tests": []}
