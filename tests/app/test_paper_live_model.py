"""A registered model's probability reaches the worker's records: every decision stores
the probability the model gives on the bars up to it (computed here independently with
compute_features and predict_proba on the whole history: the features are causal), and
the cycle report carries it per symbol."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from app.operations.paper import PaperRequest
from app.operations.registry import PromoteRequest, RegisterRequest
from app.operations.training import TrainRequest
from app.services import paper, registry
from app.services.db import get_engine
from app.services.paper_io import IO
from app.services.training import train
from core.features import compute_features
from core.paper.model_loop import load_version
from core.paper.report import CycleReport
from core.store.db import session_scope
from core.store.paper import TradingDecision

SYMBOLS = ["AAPL", "MSFT"]
FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]
STEPS = 40


def test_each_decision_stores_the_model_probability(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = train(TrainRequest(kind="logistic", features=FEATURES, symbol="AAPL"))
    assert outcome.run_id is not None
    version = registry.register(RegisterRequest(run_id=outcome.run_id, name="probe")).id
    registry.promote(PromoteRequest(version_id=version, reason="first champion"))
    reports: list[CycleReport] = []
    monkeypatch.setattr(paper, "_alert_hook", lambda _symbols: reports.append)
    request = PaperRequest(session="probs", symbols=SYMBOLS, model="probe@champion", train_bars=300)
    result = paper.run_worker(request, steps=STEPS)
    assert result["cycles"] == STEPS

    _, model = load_version(get_engine(), "probe@champion")
    frames = {sym: IO.frames("ohlcv_daily", sym) for sym in SYMBOLS}
    common = frames["AAPL"].index.intersection(frames["MSFT"].index)
    expected = {}
    for sym in SYMBOLS:
        x = compute_features(frames[sym].loc[common], FEATURES).dropna()
        expected[sym] = dict(zip(x.index, model.predict_proba(x)[:, 1], strict=True))
    with session_scope(get_engine()) as s:
        rows = s.scalars(
            select(TradingDecision).where(TradingDecision.session_name == "probs")
        ).all()
        stored = [(r.symbol, r.bar, r.payload.get("probability")) for r in rows]
        stamps = {(r.symbol, r.bar): pd.Timestamp(r.ts) for r in rows}
    assert len(stored) == STEPS * len(SYMBOLS)
    for sym, bar, prob in stored:
        assert prob is not None and 0.0 < prob < 1.0
        assert prob == pytest.approx(expected[sym][stamps[(sym, bar)]], abs=1e-9)
    # the cycle reports carry the same figures per symbol
    assert len(reports) == STEPS
    by_bar = {(sym, bar): prob for sym, bar, prob in stored}
    for report in reports:
        assert set(report.probabilities) == set(SYMBOLS)
        for sym, p in report.probabilities.items():
            assert math.isfinite(p) and p == by_bar[(sym, report.bar)]
    assert np.unique([p for *_, p in stored]).size > 10  # it moves with the bars
