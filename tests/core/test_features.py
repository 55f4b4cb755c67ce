"""Tests for core.features: no look-ahead, golden values, lookbacks and input handling."""

from __future__ import annotations

import doctest
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import core.features._feature as registry_module
import core.features.indicators as indicators_module
import core.strategies._indicators as strategy_indicators
from core.data.synthetic import SyntheticSpec, generate
from core.features import (
    OHLCV,
    REGISTRY,
    Feature,
    MissingInputError,
    UnknownFeatureError,
    available_features,
    compute_features,
    list_features,
    max_lookback,
)

BARS = 600
ALL_NAMES = list(REGISTRY)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    frame, _ = generate(SyntheticSpec(bars=BARS, seed=3))
    return frame


@pytest.fixture(scope="module")
def full(prices: pd.DataFrame) -> pd.DataFrame:
    return compute_features(prices)


@pytest.fixture(scope="module")
def close_only(prices: pd.DataFrame) -> pd.DataFrame:
    return prices[["close"]].copy()


def _cut_points(lookback: int, n: int = 10, seed: int = 11) -> list[int]:
    """``n`` seeded random cut points plus the warm-up boundary of the feature."""
    rng = np.random.default_rng(seed)
    cuts = set(rng.choice(np.arange(1, BARS - 1), size=n, replace=False).tolist())
    cuts |= {t for t in (lookback - 1, lookback, lookback + 1) if 0 <= t < BARS - 1}
    return sorted(cuts)


def assert_no_lookahead(prices: pd.DataFrame, name: str) -> int:
    """Row t of compute(prices[:t+1]) must equal row t of compute(prices); return #finite rows."""
    full_values = compute_features(prices, [name])[name].to_numpy()
    finite_checked = 0
    for t in _cut_points(REGISTRY[name].lookback):
        partial = compute_features(prices.iloc[: t + 1], [name])[name].to_numpy()
        np.testing.assert_allclose(
            partial[-1],
            full_values[t],
            rtol=1e-9,
            atol=0.0,
            equal_nan=True,
            err_msg=f"{name}: row {t} changes when later bars are added (look-ahead)",
        )
        finite_checked += int(np.isfinite(full_values[t]))
    return finite_checked


# --- 1. and 2. look-ahead -------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_no_lookahead(prices: pd.DataFrame, name: str) -> None:
    finite_checked = assert_no_lookahead(prices, name)
    # Most cut points lie after the warm-up, so the check compared real numbers.
    assert finite_checked >= 5


LEAKY = {
    "leak_next_return": lambda p: p["close"].shift(-1) / p["close"] - 1.0,
    "leak_centred_mean": lambda p: p["close"].rolling(5, center=True).mean(),
    "leak_full_sample_z": lambda p: (p["close"] - p["close"].mean()) / p["close"].std(),
    "leak_backfilled": lambda p: p["close"].rolling(20).mean().bfill(),
}


@pytest.mark.parametrize("leak_name", list(LEAKY))
def test_lookahead_check_catches_leaky_features(
    prices: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, leak_name: str
) -> None:
    leaky = Feature(
        name=leak_name,
        inputs=("close",),
        lookback=0,
        description="deliberately leaks future bars",
        func=LEAKY[leak_name],
    )
    monkeypatch.setitem(REGISTRY, leak_name, leaky)
    with pytest.raises(AssertionError, match="look-ahead"):
        assert_no_lookahead(prices, leak_name)


# --- 3. golden values against independent computations -------------------------------------


def _wilder_loop(values: np.ndarray, window: int) -> np.ndarray:
    """Wilder average of values[1:], seeded with the plain mean of values[1:window+1]."""
    out = np.full(len(values), np.nan)
    out[window] = np.mean(values[1 : window + 1])
    for t in range(window + 1, len(values)):
        out[t] = (out[t - 1] * (window - 1) + values[t]) / window
    return out


def test_rsi_matches_wilder_loop(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    close = prices["close"].to_numpy()
    gains = np.zeros(len(close))
    losses = np.zeros(len(close))
    for t in range(1, len(close)):
        change = close[t] - close[t - 1]
        gains[t] = max(change, 0.0)
        losses[t] = max(-change, 0.0)
    avg_gain = _wilder_loop(gains, 14)
    avg_loss = _wilder_loop(losses, 14)
    expected = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    got = full["rsi_14"].to_numpy()
    assert np.isnan(got[:14]).all()
    np.testing.assert_allclose(got[14:], expected[14:], rtol=1e-9)
    assert 20.0 < np.nanmin(got) < np.nanmax(got) < 85.0


def test_rsi_textbook_edge_cases() -> None:
    idx = pd.bdate_range("2020-01-01", periods=30)
    rising = pd.DataFrame({"close": np.linspace(100.0, 130.0, 30)}, index=idx)
    falling = pd.DataFrame({"close": np.linspace(130.0, 100.0, 30)}, index=idx)
    flat = pd.DataFrame({"close": np.full(30, 100.0)}, index=idx)
    assert (compute_features(rising, ["rsi_14"])["rsi_14"].iloc[14:] == 100.0).all()
    assert (compute_features(falling, ["rsi_14"])["rsi_14"].iloc[14:] == 0.0).all()
    assert (compute_features(flat, ["rsi_14"])["rsi_14"].iloc[14:] == 50.0).all()
    # Up 1, down 1, alternating: equal average gain and loss after an even window.
    zigzag = pd.DataFrame({"close": 100.0 + np.arange(30) % 2}, index=idx)
    value = compute_features(zigzag, ["rsi_14"])["rsi_14"].iloc[14]
    assert value == pytest.approx(50.0)


def _wilder_rsi_exact(closes: list[Fraction], window: int) -> list[Fraction | None]:
    """Wilder (1978), in exact arithmetic: the first averages are the plain means of the
    first ``window`` gains and losses, then ``avg = (avg * (window - 1) + x) / window``;
    ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)`` (100 with no loss)."""
    changes = [b - a for a, b in pairwise(closes)]
    gains = [max(c, Fraction(0)) for c in changes]
    losses = [max(-c, Fraction(0)) for c in changes]
    out: list[Fraction | None] = [None] * window
    avg_gain = sum(gains[:window], Fraction(0)) / window
    avg_loss = sum(losses[:window], Fraction(0)) / window
    for t in range(window, len(closes)):
        if t > window:
            avg_gain = (avg_gain * (window - 1) + gains[t - 1]) / window
            avg_loss = (avg_loss * (window - 1) + losses[t - 1]) / window
        out.append(Fraction(100) if avg_loss == 0 else 100 - 100 / (1 + avg_gain / avg_loss))
    return out


def test_rsi_golden_hand_computed_wilder_recursion() -> None:
    # changes +1, -0.5, +1, -0.5, +1; window 3:
    # bar 3: gain 2/3, loss 1/6 -> 80; bar 4: gain 4/9, loss 5/18 -> 800/13;
    # bar 5: gain 17/27, loss 5/27 -> 1700/22
    got = indicators_module.rsi(pd.Series([10.0, 11.0, 10.5, 11.5, 11.0, 12.0]), 3)
    assert np.isnan(got.iloc[:3]).all()
    np.testing.assert_allclose(got.iloc[3:], [80.0, 800.0 / 13.0, 1700.0 / 22.0], rtol=1e-14)
    # the same numbers from the strategies' RSI (numpy in and out)
    np.testing.assert_array_equal(
        strategy_indicators.rsi(np.array([10.0, 11.0, 10.5, 11.5, 11.0, 12.0]), 3), got
    )


def test_rsi_14_golden_against_exact_arithmetic() -> None:
    texts = (
        "44.34 44.09 44.15 43.61 44.33 44.83 45.10 45.42 45.84 46.08 45.89 46.03 45.61 "
        "46.28 46.28 46.00 46.03 46.41 46.22 45.64 46.21 46.25 45.71 46.45 45.78 45.35 "
        "44.03 44.18 44.22 44.57 43.42 42.66 43.13"
    ).split()
    expected = _wilder_rsi_exact([Fraction(t) for t in texts], 14)
    idx = pd.bdate_range("2024-01-01", periods=len(texts))
    close = pd.Series([float(t) for t in texts], index=idx)
    for got in (
        indicators_module.rsi(close, 14).to_numpy(),
        compute_features(close.to_frame("close"), ["rsi_14"])["rsi_14"].to_numpy(),
        strategy_indicators.rsi(close.to_numpy(), 14),
    ):
        assert np.isnan(got[:14]).all()
        np.testing.assert_allclose(got[14:], [float(e) for e in expected[14:]], rtol=1e-12)
    # by hand: the first 14 changes gain 3.34 and lose 1.40 in all, so the first value
    # is 100 - 100 / (1 + 3.34 / 1.40) = 100 * 3.34 / 4.74
    assert expected[14] == Fraction(33400, 474)
    assert round(float(expected[-2]), 2) == 33.09  # after the fall to 42.66


def test_log_and_simple_returns(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    close = prices["close"].to_numpy()
    for n in (1, 5, 21):
        expected_log = np.array([np.log(close[t] / close[t - n]) for t in range(n, len(close))])
        expected_simple = np.array([close[t] / close[t - n] - 1 for t in range(n, len(close))])
        np.testing.assert_allclose(full[f"logret_{n}"].to_numpy()[n:], expected_log, rtol=1e-9)
        np.testing.assert_allclose(full[f"ret_{n}"].to_numpy()[n:], expected_simple, rtol=1e-9)
    assert full["logret_1"].iloc[1] == pytest.approx(np.log(close[1] / close[0]), rel=1e-12)


@pytest.mark.parametrize("window", [21, 63])
def test_rolling_vol_matches_numpy(prices: pd.DataFrame, full: pd.DataFrame, window: int) -> None:
    log_ret = np.diff(np.log(prices["close"].to_numpy()))  # log_ret[i] is the return at row i+1
    expected = np.full(BARS, np.nan)
    for t in range(window, BARS):
        expected[t] = np.std(log_ret[t - window : t], ddof=1) * np.sqrt(252)
    np.testing.assert_allclose(full[f"vol_{window}"].to_numpy(), expected, rtol=1e-9)
    # The synthetic regimes have 10%..45% annual vol; the estimate lands in that band.
    assert 0.05 < np.nanmin(expected) < np.nanmax(expected) < 0.6


def test_atr_matches_loop(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    high, low, close = (prices[c].to_numpy() for c in ("high", "low", "close"))
    tr = np.full(BARS, np.nan)
    for t in range(1, BARS):
        tr[t] = max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
    expected = _wilder_loop(tr, 14)
    np.testing.assert_allclose(full["atr_14"].to_numpy(), expected, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(
        full["natr_14"].to_numpy(), expected / close, rtol=1e-9, equal_nan=True
    )


def test_bollinger_by_formula(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    close = prices["close"].to_numpy()
    pctb = np.full(BARS, np.nan)
    width = np.full(BARS, np.nan)
    for t in range(19, BARS):
        win = close[t - 19 : t + 1]
        mid, sd = win.mean(), win.std(ddof=0)
        upper, lower = mid + 2 * sd, mid - 2 * sd
        pctb[t] = (close[t] - lower) / (upper - lower)
        width[t] = (upper - lower) / mid
    np.testing.assert_allclose(full["bb_pctb_20"].to_numpy(), pctb, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(full["bb_width_20"].to_numpy(), width, rtol=1e-9, equal_nan=True)


def test_drawdown_matches_loop(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    close = prices["close"].to_numpy()
    expected = np.empty(BARS)
    peak = -np.inf
    for t in range(BARS):
        peak = max(peak, close[t])
        expected[t] = close[t] / peak - 1
    np.testing.assert_allclose(full["drawdown"].to_numpy(), expected, rtol=1e-12, atol=1e-15)
    assert expected.min() < -0.1  # the sample has a real drawdown, not only zeros


def test_macd_matches_ema_loop(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    close = prices["close"].to_numpy()

    def ema_loop(x: np.ndarray, span: int) -> np.ndarray:
        alpha = 2.0 / (span + 1)
        out = np.empty(len(x))
        out[0] = x[0]
        for t in range(1, len(x)):
            out[t] = alpha * x[t] + (1 - alpha) * out[t - 1]
        return out

    line = ema_loop(close, 12) - ema_loop(close, 26)
    signal = np.full(BARS, np.nan)
    signal[25:] = ema_loop(line[25:], 9)
    np.testing.assert_allclose(full["macd_line"].to_numpy()[25:], line[25:], rtol=1e-9)
    np.testing.assert_allclose(full["macd_signal"].to_numpy()[33:], signal[33:], rtol=1e-9)
    np.testing.assert_allclose(
        full["macd_hist"].to_numpy()[33:], (line - signal)[33:], rtol=1e-9, atol=1e-12
    )


def test_zscore_stochastic_and_distance(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    high, low, close = (prices[c].to_numpy() for c in ("high", "low", "close"))
    for t in (59, 300, BARS - 1):
        win = close[t - 59 : t + 1]
        assert full["zscore_60"].iloc[t] == pytest.approx(
            (close[t] - win.mean()) / win.std(ddof=1), rel=1e-9
        )
        k = 100 * (close[t] - low[t - 13 : t + 1].min())
        k /= high[t - 13 : t + 1].max() - low[t - 13 : t + 1].min()
        assert full["stoch_k_14"].iloc[t] == pytest.approx(k, rel=1e-9)
        assert full["sma_dist_50"].iloc[t] == pytest.approx(
            close[t] / close[t - 49 : t + 1].mean() - 1, rel=1e-9
        )
    t = 250
    assert full["sma_dist_200"].iloc[t] == pytest.approx(
        close[t] / close[t - 199 : t + 1].mean() - 1, rel=1e-9
    )


def test_range_vols_gap_and_shape(prices: pd.DataFrame, full: pd.DataFrame) -> None:
    o, h, lo, c, v = (prices[col].to_numpy() for col in OHLCV)
    t = 400
    hl = np.log(h[t - 20 : t + 1] / lo[t - 20 : t + 1])
    parkinson = np.sqrt(np.mean(hl**2) / (4 * np.log(2)) * 252)
    assert full["parkinson_vol_21"].iloc[t] == pytest.approx(parkinson, rel=1e-9)
    oc = np.log(c[t - 20 : t + 1] / o[t - 20 : t + 1])
    gk = np.sqrt(np.mean(0.5 * hl**2 - (2 * np.log(2) - 1) * oc**2) * 252)
    assert full["gk_vol_21"].iloc[t] == pytest.approx(gk, rel=1e-9)
    assert full["gap"].iloc[t] == pytest.approx(o[t] / c[t - 1] - 1, rel=1e-9)
    assert full["hl_range"].iloc[t] == pytest.approx((h[t] - lo[t]) / c[t], rel=1e-12)
    vol_win = v[t - 19 : t + 1]
    assert full["volume_z_20"].iloc[t] == pytest.approx(
        (v[t] - vol_win.mean()) / vol_win.std(ddof=1), rel=1e-9
    )
    rets = np.diff(np.log(c))[t - 63 : t]  # the 63 returns ending at row t
    assert full["skew_63"].iloc[t] == pytest.approx(stats.skew(rets, bias=False), rel=1e-6)
    assert full["kurt_63"].iloc[t] == pytest.approx(stats.kurtosis(rets, bias=False), rel=1e-6)
    assert full["autocorr_63"].iloc[t] == pytest.approx(
        np.corrcoef(rets, np.diff(np.log(c))[t - 64 : t - 1])[0, 1], rel=1e-6
    )


def test_indicator_doctests() -> None:
    for module in (indicators_module, registry_module):
        result = doctest.testmod(module)
        assert result.attempted > 0
        assert result.failed == 0


# --- 4. close-only datasets and errors -------------------------------------------------------


def test_close_only_availability(close_only: pd.DataFrame) -> None:
    names = available_features(["close"])
    for needs_more in ("atr_14", "natr_14", "volume_z_20", "gap", "stoch_k_14", "hl_range"):
        assert needs_more not in names
    for close_ok in ("rsi_14", "macd_hist", "vol_21", "drawdown", "bb_pctb_20", "ret_1"):
        assert close_ok in names
    assert names == [f.name for f in list_features() if f.inputs == ("close",)]
    assert len(names) >= 25


def test_close_only_atr_raises_helpful_error(close_only: pd.DataFrame) -> None:
    with pytest.raises(MissingInputError) as info:
        compute_features(close_only, ["rsi_14", "atr_14"])
    message = str(info.value)
    assert "atr_14" in message
    assert "high" in message and "low" in message
    assert "close only" in message and "OHLC dataset" in message
    assert info.value.missing == ("high", "low")
    assert isinstance(info.value, ValueError)


def test_close_only_compute_all(close_only: pd.DataFrame, full: pd.DataFrame) -> None:
    out = compute_features(close_only)
    assert list(out.columns) == available_features(["close"])
    assert out.index.equals(close_only.index)
    assert (out.dtypes == "float64").all()
    for name in out.columns:
        lookback = REGISTRY[name].lookback
        assert np.isfinite(out[name].to_numpy()[lookback:]).all(), name
        assert np.isnan(out[name].to_numpy()[:lookback]).all(), name
        # Same numbers as on the full OHLCV frame: close-only features ignore other columns.
        np.testing.assert_array_equal(out[name].to_numpy(), full[name].to_numpy())


def test_skip_unavailable_and_all_nan_column(prices: pd.DataFrame) -> None:
    close_only = prices[["close"]]
    out = compute_features(close_only, ["atr_14", "rsi_14", "gap"], skip_unavailable=True)
    assert list(out.columns) == ["rsi_14"]
    no_volume = prices.assign(volume=np.nan)
    with pytest.raises(MissingInputError, match="volume"):
        compute_features(no_volume, ["volume_z_20"])
    assert "volume_z_20" not in compute_features(no_volume).columns
    assert "atr_14" in compute_features(no_volume).columns


def test_unknown_name_lists_close_matches(prices: pd.DataFrame) -> None:
    with pytest.raises(UnknownFeatureError) as info:
        compute_features(prices, ["rsi14"])
    assert "rsi14" in str(info.value) and "rsi_14" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(KeyError, match="volatility_21"):
        max_lookback(["volatility_21"])


def test_order_duplicates_and_validation(prices: pd.DataFrame) -> None:
    out = compute_features(prices, ["rsi_14", "ret_1", "atr_14"])
    assert list(out.columns) == ["rsi_14", "ret_1", "atr_14"]
    assert compute_features(prices, []).shape == (BARS, 0)
    with pytest.raises(ValueError, match="more than once"):
        compute_features(prices, ["ret_1", "ret_1"])
    with pytest.raises(TypeError, match="single string"):
        compute_features(prices, "rsi_14")
    with pytest.raises(ValueError, match="sorted"):
        compute_features(prices.iloc[::-1], ["ret_1"])
    with pytest.raises(ValueError, match="duplicate"):
        compute_features(pd.concat([prices.iloc[:5], prices.iloc[4:10]]), ["ret_1"])


def test_short_and_degenerate_frames(prices: pd.DataFrame) -> None:
    short = compute_features(prices.iloc[:10])
    assert short.shape == (10, len(available_features(OHLCV)))
    assert short["rsi_14"].isna().all() and short["sma_dist_200"].isna().all()
    assert compute_features(prices.iloc[:0]).shape == (0, len(available_features(OHLCV)))
    # A bar with high == low gives 0/0 or x/0: reported as NaN, never inf.
    flat_bar = prices.copy()
    flat_bar.iloc[100, :4] = 100.0
    out = compute_features(flat_bar, ["close_location", "stoch_k_14"])
    assert not np.isinf(out.to_numpy()).any()
    assert np.isnan(out["close_location"].iloc[100])


def test_max_lookback() -> None:
    assert max_lookback([]) == 0
    assert max_lookback(["ret_1", "rsi_14", "macd_hist"]) == 33
    assert max_lookback(ALL_NAMES) == max(f.lookback for f in list_features()) == 252


# --- 5. registry contents -------------------------------------------------------------------


def test_registry_contents(full: pd.DataFrame) -> None:
    features = list_features()
    assert len(features) >= 30
    assert [f.name for f in features] == ALL_NAMES == list(full.columns)
    for f in features:
        assert REGISTRY[f.name] is f
        assert f.lookback >= 0
        assert f.description.strip() and "\n" not in f.description
        assert f.inputs and set(f.inputs) <= set(OHLCV)
    for required in (
        "ret_1", "ret_5", "ret_21", "logret_1", "logret_5", "logret_21", "vol_21", "vol_63",
        "atr_14", "parkinson_vol_21", "rsi_14", "macd_line", "macd_signal", "macd_hist",
        "bb_pctb_20", "bb_width_20", "zscore_20", "zscore_60", "roc_10", "roc_63", "roc_126",
        "sma_dist_20", "sma_dist_50", "sma_dist_200", "drawdown", "volume_z_20", "hl_range",
        "gap", "skew_63", "kurt_63", "stoch_k_14",
    ):  # fmt: skip
        assert required in REGISTRY, required


@pytest.mark.parametrize("name", ALL_NAMES)
def test_lookback_is_exact(full: pd.DataFrame, name: str) -> None:
    """On clean data the first finite value sits exactly at row ``lookback``."""
    values = full[name].to_numpy()
    lookback = REGISTRY[name].lookback
    assert np.isnan(values[:lookback]).all(), f"{name} has values before its lookback"
    assert np.isfinite(values[lookback:]).all(), f"{name} has gaps after its lookback"


def test_feature_validation() -> None:
    def ok(p: pd.DataFrame) -> pd.Series:
        return p["close"]

    with pytest.raises(ValueError, match="subset"):
        Feature(name="x", inputs=("vwap",), lookback=0, description="d", func=ok)
    with pytest.raises(ValueError, match="lookback"):
        Feature(name="x", inputs=("close",), lookback=-1, description="d", func=ok)
    with pytest.raises(ValueError, match="description"):
        Feature(name="x", inputs=("close",), lookback=0, description=" ", func=ok)
    with pytest.raises(TypeError):
        Feature("x", ("close",), 0, "d", ok)  # type: ignore[misc]  # keyword-only
