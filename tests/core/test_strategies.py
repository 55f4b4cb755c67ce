"""Strategies: shapes, causality, parameter validation and the regime wrappers."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import core.strategies._indicators as indicators
import core.strategies.catalog as registry
import core.strategies.filters as filters
import core.strategies.single as single
from core.data.synthetic import SyntheticSpec, generate
from core.features import compute_features
from core.strategies import (
    STRATEGIES,
    MACrossoverParams,
    confidence_scale,
    ma_crossover,
    regime_filter,
    run_strategy,
    ts_momentum,
    vol_target_trend,
)
from core.strategies.single import TSMomentumParams, VolTargetTrendParams

SMALL_PARAMS = {
    "buy_and_hold": {},
    "ma_crossover": {"fast": 5, "slow": 20, "allow_short": True},
    "donchian_breakout": {"window": 20, "exit_window": 10, "allow_short": True},
    "mean_reversion": {"indicator": "rsi", "window": 14, "entry": 15, "allow_short": True},
    "ts_momentum": {"lookback": 30},
    "vol_target_trend": {"trend_window": 30, "vol_window": 10, "allow_short": True},
}


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=400, seed=7))[0]


def test_registry_covers_all_strategies() -> None:
    assert set(STRATEGIES) == set(SMALL_PARAMS)
    for name, entry in STRATEGIES.items():
        assert entry.description, name
        entry.params_model()  # defaults are valid


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_positions_are_bounded_floats_on_the_price_index(name: str, prices: pd.DataFrame) -> None:
    pos = run_strategy(name, prices, SMALL_PARAMS[name])
    assert pos.index.equals(prices.index)
    assert pos.dtype == np.float64
    assert not pos.isna().any()
    assert pos.between(-1.0, 1.0).all()
    assert (pos != 0).any()


@pytest.mark.parametrize("name", sorted(SMALL_PARAMS))
def test_positions_use_only_past_data(name: str, prices: pd.DataFrame) -> None:
    full = run_strategy(name, prices, SMALL_PARAMS[name])
    for cut in (60, 150, 299):
        truncated = run_strategy(name, prices.iloc[: cut + 1], SMALL_PARAMS[name])
        np.testing.assert_allclose(
            truncated.to_numpy(), full.iloc[: cut + 1].to_numpy(), atol=1e-12
        )


def test_ma_crossover_rejects_fast_not_below_slow(prices: pd.DataFrame) -> None:
    with pytest.raises(
        ValueError, match=r"fast window \(50\) must be smaller than slow window \(20\)"
    ):
        run_strategy("ma_crossover", prices, {"fast": 50, "slow": 20})
    with pytest.raises(ValueError, match="must be smaller"):
        run_strategy("ma_crossover", prices, {"fast": 20, "slow": 20})
    with pytest.raises(ValueError, match="fast window"):
        MACrossoverParams(fast=30, slow=10)


def test_run_strategy_errors_are_clear(prices: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown strategy 'nope'"):
        run_strategy("nope", prices, {})
    with pytest.raises(ValueError, match="invalid parameters for ma_crossover: fst"):
        run_strategy("ma_crossover", prices, {"fst": 3})
    with pytest.raises(ValueError, match="invalid parameters for donchian_breakout: window"):
        run_strategy("donchian_breakout", prices, {"window": "wide"})
    with pytest.raises(ValueError, match="exit threshold"):
        run_strategy("mean_reversion", prices, {"entry": 1.0, "exit": 1.5})


def test_params_are_frozen() -> None:
    params = MACrossoverParams(fast=5, slow=10)
    with pytest.raises(Exception, match="frozen"):
        params.fast = 7  # type: ignore[misc]


def test_ma_crossover_matches_pandas_rolling_means(prices: pd.DataFrame) -> None:
    pos = ma_crossover(prices, MACrossoverParams(fast=5, slow=20))
    fast = prices["close"].rolling(5).mean()
    slow = prices["close"].rolling(20).mean()
    expected = (fast > slow).astype(float)
    np.testing.assert_array_equal(pos.to_numpy(), expected.to_numpy())


def test_ts_momentum_is_the_sign_of_the_past_return(prices: pd.DataFrame) -> None:
    pos = ts_momentum(prices, TSMomentumParams(lookback=10))
    past = prices["close"] / prices["close"].shift(10) - 1
    np.testing.assert_array_equal(pos.iloc[10:].to_numpy(), np.sign(past.iloc[10:]).to_numpy())
    assert (pos.iloc[:10] == 0).all()


def test_vol_target_trend_scales_and_caps(prices: pd.DataFrame) -> None:
    capped = vol_target_trend(prices, VolTargetTrendParams(target_vol=10.0, max_leverage=0.7))
    assert set(np.unique(capped.to_numpy())) <= {0.0, 0.7}
    params = VolTargetTrendParams(target_vol=0.01)
    small = vol_target_trend(prices, params)
    # where long, the size is target / realized vol: the sample std (ddof=1) of the last
    # vol_window log returns, annualized; recomputed bar by bar with numpy
    logret = np.diff(np.log(prices["close"].to_numpy()))
    long_bars = np.flatnonzero(small.to_numpy() > 0)
    assert len(long_bars) > 50
    for t in long_bars:
        window = logret[t - params.vol_window : t]
        vol = np.std(window, ddof=1) * np.sqrt(params.periods_per_year)
        assert small.iloc[t] == pytest.approx(min(0.01 / vol, params.max_leverage), rel=1e-9)


def test_donchian_uses_high_low_when_present() -> None:
    idx = pd.bdate_range("2021-01-01", periods=8)
    close = pd.Series([10, 10, 10, 10, 10.5, 10.5, 10.5, 10.5], index=idx, dtype=float)
    only_close = pd.DataFrame({"close": close})
    with_high = only_close.assign(high=close + 1.0, low=close - 1.0)
    params = {"window": 3, "exit_window": 2}
    assert run_strategy("donchian_breakout", only_close, params).iloc[4] == 1.0
    assert run_strategy("donchian_breakout", with_high, params).iloc[4] == 0.0


def test_mean_reversion_buys_a_stretched_drop() -> None:
    idx = pd.bdate_range("2021-01-01", periods=40)
    close = np.full(40, 100.0) + np.tile([0.5, -0.5], 20)
    close[30] = 90.0  # sharp drop -> z << -2
    close[31:] = 100.0
    pos = run_strategy("mean_reversion", pd.DataFrame({"close": close}, index=idx), {"window": 20})
    assert pos.iloc[29] == 0.0
    assert pos.iloc[30] == 1.0
    assert pos.iloc[31] == 0.0  # back above the mean


def test_strategy_rsi_is_the_feature_rsi(prices: pd.DataFrame) -> None:
    """One Wilder RSI: the strategies' numpy RSI and the feature give the same numbers."""
    close = prices["close"]
    feature = compute_features(prices, ["rsi_14"])["rsi_14"].to_numpy()
    np.testing.assert_array_equal(indicators.rsi(close.to_numpy(), 14), feature)
    assert np.isnan(feature[:14]).all() and np.isfinite(feature[14:]).all()


def test_rsi_mean_reversion_stays_flat_when_prices_do_not_move() -> None:
    # RSI with no change at all is 50 (neutral), not 100 (which made this short)
    idx = pd.bdate_range("2021-01-01", periods=40)
    close = np.full(40, 100.0)
    params = {"indicator": "rsi", "window": 7, "entry": 20.0, "allow_short": True}
    pos = run_strategy("mean_reversion", pd.DataFrame({"close": close}, index=idx), params)
    assert (pos == 0.0).all()
    assert indicators.rsi(close, 7)[7:].tolist() == [50.0] * 33


def _probs(index: pd.Index, labels: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(0.0, index=index, columns=["bull", "bear", "sideways", "volatile"])
    for i, label in enumerate(labels):
        frame.iloc[i, frame.columns.get_loc(label)] = 1.0
    return frame


def test_regime_filter_zeroes_positions_outside_allowed_regimes() -> None:
    idx = pd.bdate_range("2021-01-01", periods=4)
    pos = pd.Series([1.0, -1.0, 0.5, 1.0], index=idx)
    probs = _probs(idx, ["bull", "bear", "sideways", "volatile"])
    out = regime_filter(pos, probs, {"bull", "sideways"})
    assert out.tolist() == [1.0, 0.0, 0.5, 0.0]
    assert out.index.equals(idx)


def test_regime_filter_min_prob_and_missing_bars() -> None:
    idx = pd.bdate_range("2021-01-01", periods=3)
    pos = pd.Series(1.0, index=idx)
    probs = pd.DataFrame(
        {"bull": [0.6, 0.4], "bear": [0.4, 0.6], "sideways": 0.0, "volatile": 0.0}, index=idx[:2]
    )
    assert regime_filter(pos, probs, {"bull"}, min_prob=0.5).tolist() == [1.0, 0.0, 0.0]
    assert regime_filter(pos, probs, {"bull"}, min_prob=0.3).tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="unknown regimes"):
        regime_filter(pos, probs, {"crash"})
    with pytest.raises(ValueError, match="lacks columns"):
        regime_filter(pos, probs.drop(columns="volatile"), {"bull"})


def test_confidence_scale() -> None:
    idx = pd.bdate_range("2021-01-01", periods=3)
    pos = pd.Series([1.0, -1.0, 1.0], index=idx)
    conf = pd.Series([0.25, 0.5], index=idx[:2])
    assert confidence_scale(pos, conf).tolist() == [0.25, -0.5, 0.0]


@pytest.mark.parametrize("module", [indicators, filters, registry, single])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.failed == 0
