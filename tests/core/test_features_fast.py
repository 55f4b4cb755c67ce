"""The shared-intermediate feature kernels give exactly the values of the per-feature
implementation they replaced.

``REFERENCE`` below is a verbatim copy of the former catalogue (``core/features/_catalog.py``
before the kernels: every feature computed alone from the price frame with
:mod:`core.features.indicators`), and ``reference_compute`` the former loop of
``compute_features``. Every feature of the new implementation must equal it bit for bit
(same float64 bits, NaN where it is NaN) on clean, close-only, intraday, degenerate and
short frames, through ``compute_features`` (one shared ``Bars`` for all features) and
through each feature's own ``func``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from core.data.loaders import embedded_sources
from core.data.synthetic import SyntheticSpec, generate
from core.features import REGISTRY, compute_features
from core.features import indicators as ind
from core.features._catalog import bars_a_year

# --- the former implementation (reference copy) ---------------------------------------------


def _on_close(
    indicator: Callable[[pd.Series, int], pd.Series], n: int
) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda p: indicator(p["close"], n)


def _annualized_vol(n: int) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda p: ind.realized_vol(p["close"], n, bars_a_year(p))


REFERENCE: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    **{f"ret_{n}": _on_close(ind.simple_return, n) for n in (1, 5, 21)},
    **{f"logret_{n}": _on_close(ind.log_return, n) for n in (1, 5, 21)},
    **{f"roc_{n}": _on_close(ind.simple_return, n) for n in (10, 63, 126)},
    "mom_252_21": lambda p: p["close"].shift(21) / p["close"].shift(252) - 1.0,
    "efficiency_10": lambda p: ind.efficiency_ratio(p["close"], 10),
    **{f"vol_{n}": _annualized_vol(n) for n in (21, 63)},
    "vol_ratio_21_63": lambda p: (
        ind.realized_vol(p["close"], 21) / ind.realized_vol(p["close"], 63)
    ),
    "skew_63": lambda p: ind.log_return(p["close"], 1).rolling(63).skew(),
    "kurt_63": lambda p: ind.log_return(p["close"], 1).rolling(63).kurt(),
    "autocorr_63": lambda p: ind.return_autocorr(p["close"], 63),
    "atr_14": lambda p: ind.atr(p["high"], p["low"], p["close"], 14),
    "natr_14": lambda p: ind.atr(p["high"], p["low"], p["close"], 14) / p["close"],
    "parkinson_vol_21": lambda p: ind.parkinson_vol(p["high"], p["low"], 21, bars_a_year(p)),
    "gk_vol_21": lambda p: ind.garman_klass_vol(
        p["open"], p["high"], p["low"], p["close"], 21, bars_a_year(p)
    ),
    "hl_range": lambda p: (p["high"] - p["low"]) / p["close"],
    "rsi_14": lambda p: ind.rsi(p["close"], 14),
    "macd_line": lambda p: ind.macd(p["close"])[0],
    "macd_signal": lambda p: ind.macd(p["close"])[1],
    "macd_hist": lambda p: ind.macd(p["close"])[2],
    "ppo_12_26": lambda p: (
        100.0 * (ind.ema(p["close"], 12) / ind.ema(p["close"], 26, min_periods=26) - 1.0)
    ),
    "stoch_k_14": lambda p: ind.stochastic_k(p["high"], p["low"], p["close"], 14),
    "stoch_d_14": lambda p: ind.stochastic_k(p["high"], p["low"], p["close"], 14).rolling(3).mean(),
    "close_location": lambda p: (p["close"] - p["low"]) / (p["high"] - p["low"]),
    "range_pos_20": lambda p: ind.range_position(p["close"], 20),
    "bb_pctb_20": lambda p: ind.bollinger(p["close"], 20, 2.0)[0],
    "bb_width_20": lambda p: ind.bollinger(p["close"], 20, 2.0)[1],
    **{f"zscore_{n}": _on_close(ind.zscore, n) for n in (20, 60)},
    **{f"sma_dist_{n}": _on_close(ind.sma_distance, n) for n in (20, 50, 200)},
    "drawdown": lambda p: ind.drawdown(p["close"]),
    "drawdown_252": lambda p: ind.drawdown(p["close"], 252),
    "volume_z_20": lambda p: ind.zscore(p["volume"], 20),
    "rel_volume_20": lambda p: p["volume"] / p["volume"].rolling(20).mean(),
    "gap": lambda p: p["open"] / p["close"].shift(1) - 1.0,
    "intraday_ret": lambda p: p["close"] / p["open"] - 1.0,
}


def reference_compute(prices: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The former ``compute_features`` loop on features whose inputs are present."""
    present = [c for c in ("open", "high", "low", "close", "volume") if c in prices.columns]
    frame = prices.loc[:, present].astype("float64")
    columns: dict[str, np.ndarray] = {}
    with np.errstate(all="ignore"):  # the former code warned on log(0) (numpy, not pandas)
        for name in names:
            values = np.asarray(REFERENCE[name](frame), dtype="float64")
            columns[name] = np.where(np.isinf(values), np.nan, values)
    return pd.DataFrame(columns, index=prices.index, dtype="float64")


# --- frames ----------------------------------------------------------------------------------


def _synthetic(bars: int, seed: int) -> pd.DataFrame:
    return generate(SyntheticSpec(bars=bars, seed=seed))[0]


def _degenerate() -> pd.DataFrame:
    """Flat stretches (zero ranges, zero moves), zero volume, NaN bars and a zero close."""
    frame = _synthetic(700, 21).copy()
    frame.iloc[100:140, :4] = 50.0  # high == low == close: 0/0 and x/0
    frame.iloc[300:330, frame.columns.get_loc("volume")] = 0.0
    frame.iloc[400:403] = np.nan  # missing bars inside the history
    frame.iloc[500, :4] = 0.0  # log(0), division by a zero close
    frame.iloc[550, frame.columns.get_loc("high")] = frame.iloc[550]["low"]
    return frame


def _intraday() -> pd.DataFrame:
    frame = _synthetic(800, 5)
    start = pd.Timestamp("2024-03-04 14:30")
    days = [start + pd.Timedelta(days=d) for d in range(8)]
    stamps = [d + pd.Timedelta(minutes=m) for d in days for m in range(100)]
    return frame.set_axis(pd.DatetimeIndex(stamps), axis=0)


FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "synthetic_600": lambda: _synthetic(600, 3),
    "synthetic_5000": lambda: _synthetic(5000, 1000),
    "close_only": lambda: _synthetic(600, 3)[["close"]],
    "intraday_1min": _intraday,
    "degenerate": _degenerate,
    "short_30": lambda: _synthetic(30, 8),
    "two_bars": lambda: _synthetic(2, 9),
    "one_bar": lambda: _synthetic(2, 9).iloc[:1],
    "integer_index": lambda: _synthetic(300, 4).reset_index(drop=True),
    "int_volume_float32_close": lambda: _synthetic(300, 6).astype(
        {"volume": "int64", "close": "float32"}
    ),
    "extra_and_reordered_columns": lambda: (
        _synthetic(300, 7)
        .assign(vwap=1.0)
        .loc[:, ["vwap", "volume", "close", "low", "high", "open"]]
    ),
    "embedded_first_symbol": lambda: (lambda src: src.load(src.symbols()[0]))(
        embedded_sources()["ohlcv_daily"]
    ),
}


def _assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, what
    nan_got, nan_want = np.isnan(got), np.isnan(want)
    assert np.array_equal(nan_got, nan_want), f"{what}: NaN at different bars"
    # the same float64 bits (so -0.0 vs 0.0 would fail too)
    same = got[~nan_got].view(np.int64) == want[~nan_want].view(np.int64)
    assert bool(same.all()), f"{what}: {int((~same).sum())} values differ"


def test_the_reference_copy_covers_the_whole_catalogue() -> None:
    assert list(REFERENCE) == list(REGISTRY) and len(REGISTRY) == 44
    assert all(f.kernel is not None for f in REGISTRY.values())


@pytest.mark.parametrize("frame_name", list(FRAMES))
def test_compute_features_equals_the_former_implementation_bit_for_bit(frame_name: str) -> None:
    prices = FRAMES[frame_name]()
    got = compute_features(prices)
    names = list(got.columns)
    assert names == [n for n, f in REGISTRY.items() if set(f.inputs) <= set(prices.columns)]
    want = reference_compute(prices, names)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for name in names:
        _assert_bits_equal(got[name].to_numpy(), want[name].to_numpy(), f"{frame_name}/{name}")


@pytest.mark.parametrize("frame_name", ["synthetic_600", "degenerate", "intraday_1min"])
def test_each_feature_func_alone_equals_the_former_implementation(frame_name: str) -> None:
    prices = FRAMES[frame_name]()
    frame = prices.astype("float64")
    for name, feature in REGISTRY.items():
        got = feature.func(frame)
        assert got.index.equals(frame.index)
        with np.errstate(all="ignore"):
            want = REFERENCE[name](frame)
        _assert_bits_equal(got.to_numpy(), want.to_numpy(dtype="float64"), f"{name}.func")


def test_any_subset_and_order_equals_the_full_computation() -> None:
    """Sharing intermediates does not make a feature depend on which others are asked for."""
    prices = _degenerate()
    full = compute_features(prices)
    rng = np.random.default_rng(0)
    for _ in range(12):
        names = list(rng.permutation(list(REGISTRY))[: rng.integers(1, 12)])
        part = compute_features(prices, names)
        assert list(part.columns) == names
        for name in names:
            _assert_bits_equal(part[name].to_numpy(), full[name].to_numpy(), name)


def test_empty_selection_and_empty_frame_keep_their_shape() -> None:
    prices = _synthetic(50, 1)
    none = compute_features(prices, [])
    assert none.shape == (50, 0)
    pd.testing.assert_frame_equal(none, reference_compute(prices, []))
    empty = compute_features(prices.iloc[:0])
    assert empty.shape == (0, 44)
    pd.testing.assert_frame_equal(empty, reference_compute(prices.iloc[:0], list(REGISTRY)))


def test_direct_window_routines_are_checked_and_the_public_api_gives_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the installed pandas the Cython window routines are called directly (they
    passed the import-time check); forcing the public ``rolling`` API changes no bit."""
    import core.features._bars as bars_module

    assert bars_module._DIRECT and bars_module._direct_matches_public()
    prices = _degenerate()
    direct = compute_features(prices)
    monkeypatch.setattr(bars_module, "_DIRECT", False)
    public = compute_features(prices)
    for name in direct.columns:
        _assert_bits_equal(direct[name].to_numpy(), public[name].to_numpy(), name)


def test_a_routine_that_disagrees_with_the_public_api_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import core.features._bars as bars_module

    wrong = dict(bars_module._ROUTINES, mean=bars_module._ROUTINES["sum"])
    monkeypatch.setattr(bars_module, "_ROUTINES", wrong)
    assert not bars_module._direct_matches_public()
