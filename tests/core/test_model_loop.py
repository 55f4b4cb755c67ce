"""The model agent: online features, probabilities and targets from data up to bar t only."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.loaders import embedded_sources
from core.features import available_features, compute_features
from core.paper.model_loop import (
    ModelRef,
    load_version,
    parse_model_ref,
    pipeline_for,
)
from core.pipeline import DecisionPipeline, ModelPipeline, OnlineFeatures, SymbolBook, model_targets
from core.registry import ModelRegistry
from core.store.db import session_scope
from tests.core.model_loop_fixtures import FEATURES, ar_prices, db, register_model

TRAIN = 300
ONE = {"model": "alpha:1", "train_bars": TRAIN}


def test_online_features_equal_the_batch_catalogue_on_real_prices() -> None:
    prices = embedded_sources()["ohlcv_daily"].load("AAPL").iloc[:900]
    names = available_features(prices.columns)
    assert len(names) == 44
    batch = compute_features(prices, names).to_numpy()
    online = OnlineFeatures(names)
    rows = np.array([online.update(*row) for row in prices.itertuples(index=False)])
    assert np.array_equal(np.isnan(rows), np.isnan(batch))
    ok = ~np.isnan(batch)
    np.testing.assert_allclose(rows[ok], batch[ok], rtol=1e-6, atol=1e-10)


def test_online_features_on_minute_bars_annualize_per_minute() -> None:
    from core.data.frequency import periods_per_year_of
    from core.data.synthetic import synthetic_intraday

    prices = synthetic_intraday(["AAA"], days=2, seed=4)["AAA"]
    names = available_features(prices.columns)
    batch = compute_features(prices, names).to_numpy()
    ppy = periods_per_year_of(prices.index)
    assert ppy == 98_280.0
    online = OnlineFeatures(names, periods_per_year=ppy)
    rows = np.array([online.update(*row) for row in prices.itertuples(index=False)])
    assert np.array_equal(np.isnan(rows), np.isnan(batch))
    ok = ~np.isnan(batch)
    np.testing.assert_allclose(rows[ok], batch[ok], rtol=1e-6, atol=1e-10)


def test_parse_model_ref() -> None:
    assert parse_model_ref("alpha:3") == ModelRef("alpha", 3)
    assert parse_model_ref(" alpha@champion ") == ModelRef("alpha", None)
    assert parse_model_ref("alpha@champion").text == "alpha@champion"
    assert str(parse_model_ref("alpha:12")) == "alpha:12"  # what a stored config keeps
    for bad in ("alpha", "alpha:0", "alpha@latest", "al pha:1", "alpha:x"):
        with pytest.raises(ValueError, match="write NAME:VERSION"):
            parse_model_ref(bad)


@pytest.fixture
def registered(tmp_path: Path):
    prices = ar_prices(700, phi=0.2, seed=3)
    engine = db(tmp_path)
    row = register_model(engine, prices, name="alpha", train_bars=TRAIN, root=tmp_path)
    return engine, prices, row


def _direct(prices: pd.DataFrame, model, t: int) -> float:
    """P(up) at bar t from the batch features of the data truncated at t."""
    feats = compute_features(prices.iloc[: t + 1], FEATURES).iloc[[-1]]
    if feats.isna().any(axis=None):
        return math.nan
    return float(model.predict_proba(feats)[0, 1])


def test_model_positions_equal_a_direct_computation_on_truncated_data(registered) -> None:
    engine, prices, _ = registered
    config = {"model": "alpha:1", "train_bars": TRAIN, "seed": 0}
    pipe = pipeline_for(prices, config, symbol="SYN", engine=engine)
    assert isinstance(pipe, ModelPipeline)
    assert pipe.label == "model:alpha v1"
    _, model = load_version(engine, "alpha:1")
    out = model_targets(prices, pipe)
    # the sizer, independently: EW variance of log returns (pandas), vol target 15 %
    sizing = pipe.sizing
    r = np.log(prices["close"]).diff().dropna()
    var = (r**2).ewm(alpha=1 - 0.5 ** (1 / sizing.vol_halflife), adjust=False).mean()
    var = var.reindex(prices.index)
    count = pd.Series(np.arange(len(prices)), index=prices.index)
    for t in [5, 30, 60, 200, 299, 300, 301, 450, 699]:
        p = _direct(prices, model, t)
        got = out["probability"].iloc[t]
        if math.isnan(p):
            assert math.isnan(got) and out["target"].iloc[t] == 0.0
            continue
        assert got == pytest.approx(p, abs=1e-9)
        signal = 2 * p - 1
        scale = 0.15 / math.sqrt(var.iloc[t] * 252) if count.iloc[t] >= sizing.min_vol_bars else 0.0
        expected = max(-1.0, min(1.0, signal * scale))
        assert out["target"].iloc[t] == pytest.approx(expected, abs=1e-8)
    assert out["probability"].iloc[100:].notna().all()
    assert (out["target"].iloc[100:] != 0).mean() > 0.9


def test_truncating_or_changing_the_future_changes_no_decision(registered) -> None:
    engine, prices, _ = registered
    config = {"model": "alpha@champion", "train_bars": TRAIN}
    with session_scope(engine) as s:
        ModelRegistry(s).promote(1, reason="first")
    pipe = pipeline_for(prices, config, symbol="SYN", engine=engine)
    full = model_targets(prices, pipe)
    cut = 500
    truncated = model_targets(prices.iloc[:cut], pipe)
    pd.testing.assert_frame_equal(full.iloc[:cut], truncated)
    future = prices.copy()
    future.iloc[cut:] = future.iloc[cut:] * 1.5
    changed = model_targets(future, pipe)
    pd.testing.assert_frame_equal(full.iloc[:cut], changed.iloc[:cut])
    later = slice(cut + 30, None)
    assert not np.allclose(full["probability"].iloc[later], changed["probability"].iloc[later])


def test_warm_up_then_step_equals_stepping_from_the_start(registered) -> None:
    engine, prices, _ = registered
    pipe = pipeline_for(prices, ONE, symbol="S", engine=engine)
    full = model_targets(prices.iloc[:420], pipe)
    pipe.warm_up(prices.iloc[:400])
    book = SymbolBook(equity=1.0)
    for t in range(400, 420):
        bar = dict(prices.iloc[t])
        d = pipe.step(bar, book)
        assert d.probability == full["probability"].iloc[t]
        assert d.target_position == full["target"].iloc[t]
        assert d.weights == {"model:alpha v1": 1.0}
        assert d.regime in ("bull", "bear", "sideways", "crisis") or d.regime


def test_risk_bounds_still_apply_to_the_model_agent(registered) -> None:
    engine, prices, _ = registered
    pipe = pipeline_for(prices, ONE, symbol="S", engine=engine)
    pipe.warm_up(prices.iloc[:400])
    d = pipe.step(dict(prices.iloc[400]), SymbolBook(equity=1e5, max_long=0.01, max_short=0.01))
    assert abs(d.target_position) <= 0.01 and d.sized_by in ("max_long", "max_short")


def test_without_a_model_the_ensemble(registered) -> None:
    engine, prices, _ = registered
    pipe = pipeline_for(prices, {"train_bars": TRAIN}, symbol="S", engine=engine)
    assert isinstance(pipe, DecisionPipeline)
    assert pipe.sizing.periods_per_year == 252.0


def test_references_that_resolve_to_nothing_say_so(registered) -> None:
    engine, prices, _ = registered
    with pytest.raises(LookupError, match="has no champion"):
        pipeline_for(prices, {**ONE, "model": "alpha@champion"}, symbol="S", engine=engine)
    with pytest.raises(LookupError, match="has no version 7"):
        pipeline_for(prices, {**ONE, "model": "alpha:7"}, symbol="S", engine=engine)


def test_an_xgboost_agent_scores_on_the_fast_path_like_predict_proba(tmp_path: Path) -> None:
    prices = ar_prices(520, phi=0.2, seed=8)
    engine = db(tmp_path)
    register_model(engine, prices, name="xgb", train_bars=TRAIN, root=tmp_path, kind="xgboost")
    pipe = pipeline_for(prices, {**ONE, "model": "xgb:1"}, symbol="S", engine=engine)
    assert pipe.predictor.path == "xgboost"
    _, model = load_version(engine, "xgb:1")
    out = model_targets(prices, pipe)
    for t in (320, 400, 519):
        assert out["probability"].iloc[t] == pytest.approx(_direct(prices, model, t), abs=1e-6)
