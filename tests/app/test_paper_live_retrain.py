"""Live retraining in a paper session, through the paper service: the champion trained on
the calm bars of a symbol trades it on, and its volatility triples at a planted bar;
monitoring's drift figures trigger the session's retraining policy, which trains a challenger on the
trailing window, registers it as a candidate and runs it in shadow (the live A/B test).
Refusals name the retraining policy (the CLI adds --retrain) before any work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from app.operations.paper import PaperRequest
from app.operations.registry import LiveTestsRequest, PromoteRequest, RegisterRequest
from app.operations.training import TrainRequest
from app.services import data, paper, registry, registry_loop
from app.services.db import get_engine
from app.services.training import train
from core.registry import ModelRegistry
from core.store.db import session_scope
from core.store.model_loop import ShadowOrder
from core.store.registry import RegistryRepository
from core.store.retrain import RetrainDecisionRepository
from tests.cli_helpers import run_cli
from tests.planted_data import volatility_shift_csv

N, TRAIN, SHIFT = 560, 300, 400
"""Bars of the uploads, the session's warm-up bars, the bar the volatility triples from."""
FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]
POLICY = {
    "threshold": -1e9,  # no decay trigger: the planted drift decides when
    "train_window_bars": 200,
    "horizon": 1,
    "cooldown_bars": 1000,  # one retraining
}


def _csv(seed: int, *, rows: int = N) -> bytes:
    """The first ``rows`` of seeded GBM daily bars whose volatility triples from SHIFT."""
    return volatility_shift_csv(seed, n=N, shift=SHIFT, rows=rows)


def test_planted_drift_retrains_a_challenger_that_runs_in_shadow() -> None:
    # the champion learns on the bars before the change (its reference distribution)
    data.import_upload("calm", "calm.csv", _csv(3, rows=SHIFT))
    data.import_upload("planted", "planted.csv", _csv(3))
    outcome = train(
        TrainRequest(kind="logistic", features=FEATURES, dataset="uploads", symbol="calm")
    )
    assert outcome.run_id is not None
    champion = registry.register(RegisterRequest(run_id=outcome.run_id, name="rt")).id
    registry.promote(PromoteRequest(version_id=champion, reason="first champion"))
    # control: on the calm bars alone the policy stays quiet
    quiet = PaperRequest(
        session="quiet",
        dataset="uploads",
        symbols=["calm"],
        model="rt@champion",
        train_bars=TRAIN,
        retrain=POLICY,
    )
    assert paper.run_worker(quiet, steps=None)["cycles"] == SHIFT - TRAIN
    with session_scope(get_engine()) as s:
        assert RetrainDecisionRepository(s).history() == []
    request = PaperRequest(
        session="retrain",
        dataset="uploads",
        symbols=["planted"],
        model="rt@champion",
        train_bars=TRAIN,
        retrain=POLICY,
    )
    assert paper.stored_settings("retrain") is None
    result = paper.run_worker(request, steps=None)
    assert result["cycles"] == N - TRAIN
    config = paper.stored_settings("retrain")
    assert config is not None and config["retrain"]["train_window_bars"] == 200
    assert config["retrain"]["window_bars"] == 63  # the policy's defaults stored in full
    with session_scope(get_engine()) as s:
        (decision,) = RetrainDecisionRepository(s).history()
        assert decision.decision == "retrained" and not decision.replay
        assert decision.trigger.startswith("drift: PSI")
        assert decision.champion_version_id == champion
        versions = {v.version: v for v in ModelRegistry(s).list("rt")}
        assert set(versions) == {1, 2}
        new = versions[2]
        assert new.stage == "candidate" and new.id == decision.challenger_version_id
        assert new.kind == "logistic" and list(new.features) == FEATURES
        assert new.data_hash == "live" and new.metrics["trigger"] == decision.trigger
        # the trailing window ends at the triggering bar, after the planted change
        as_of = pd.Timestamp(decision.as_of)
        dates = pd.bdate_range("2020-01-02", periods=N)
        assert as_of >= dates[SHIFT]
        t = int(np.searchsorted(dates, as_of))
        assert dates[t - 200] < pd.Timestamp(new.train_start) < pd.Timestamp(new.train_end)
        assert pd.Timestamp(new.train_end) < as_of
        retrained = [e for e in RegistryRepository(s).events("rt") if e.action == "retrain"]
        assert [e.version_id for e in retrained] == [new.id]
        shadow = s.scalars(select(ShadowOrder)).all()
    (test,) = registry_loop.live_tests(LiveTestsRequest(path=True))
    assert test.session == "retrain" and test.challenger == "rt:2"
    assert test.champion == "rt@champion"
    # the shadow runs from the bar after the retraining to the end of the data
    assert test.n in (N - t - 2, N - t - 1)
    assert {o.book for o in shadow} >= {"challenger"}


def test_retrain_is_refused_naming_the_option(isolated_workbench: Path) -> None:
    with pytest.raises(ValueError, match="retrain acts on a registry champion"):
        PaperRequest(model="rt:1", retrain={})
    with pytest.raises(ValueError, match="retrain: unknown setting 'windw_bars'"):
        PaperRequest(model="rt@champion", retrain={"windw_bars": 3})
    out = run_cli(
        "paper",
        "run",
        "--session",
        "r2",
        "--retrain",
        "window_bars=1",
        "--json",
        var=isolated_workbench,
    )
    assert out.returncode == 2
    error = json.loads(out.stdout)["error"]
    assert error.startswith("Live retraining: 'window_bars=1': "), error
    assert error.endswith(" (--retrain)."), error
    out = run_cli(
        "paper", "run", "--session", "r2", "--retrain", "on", "--json", var=isolated_workbench
    )
    assert (
        out.returncode == 2
        and "it needs a model NAME@champion (this session has no model) (--retrain)" in out.stdout
    )
    assert paper.stored_settings("r2") is None
