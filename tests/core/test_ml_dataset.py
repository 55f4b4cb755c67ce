"""Datasets: causal features, forward labels (sign and triple barrier), time splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.features import max_lookback
from core.ml.dataset import make_dataset, make_labels, time_split

FEATURES = ["ret_1", "ret_5", "vol_21", "rsi_14", "zscore_20"]


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=800, seed=7))[0]


def test_sign_labels_match_forward_returns(prices: pd.DataFrame) -> None:
    h = 5
    ds = make_dataset(prices, FEATURES, horizon=h)
    close = prices["close"].to_numpy()
    pos = prices.index.get_indexer(ds.X.index)
    np.testing.assert_array_equal(ds.y.to_numpy(), (close[pos + h] / close[pos] - 1 > 0))
    np.testing.assert_allclose(ds.fwd_return.to_numpy(), close[pos + h] / close[pos] - 1)
    assert (ds.t1.to_numpy() == prices.index[pos + h].to_numpy()).all()
    # lookback rows and rows without a complete label window are dropped
    assert pos[0] == max_lookback(FEATURES)
    assert pos[-1] == len(prices) - 1 - h
    assert ds.X.notna().all().all() and set(ds.y.unique()) <= {0, 1}
    assert ds.feature_names == tuple(FEATURES) and ds.horizon == h


def _triple_barrier_loop(close: np.ndarray, h: int, pt: float, sl: float, window: int):
    """Independent row-by-row implementation of the triple barrier."""
    ret = pd.Series(close).pct_change()
    sigma = (ret.rolling(window).std() * np.sqrt(h)).to_numpy()
    labels, ends = {}, {}
    for t in range(len(close) - h):
        if not np.isfinite(sigma[t]):
            continue
        label, end = None, t + h
        for k in range(1, h + 1):
            r = close[t + k] / close[t] - 1
            if r >= pt * sigma[t]:
                label, end = 1, t + k
                break
            if r <= -sl * sigma[t]:
                label, end = 0, t + k
                break
        if label is None:
            label = int(close[t + h] / close[t] - 1 > 0)
        labels[t], ends[t] = label, end
    return labels, ends


def test_triple_barrier_matches_loop(prices: pd.DataFrame) -> None:
    h, pt, sl, window = 10, 1.0, 0.5, 20
    out = make_labels(prices["close"], horizon=h, label="triple_barrier", pt_sl=(pt, sl))
    labels, ends = _triple_barrier_loop(prices["close"].to_numpy(), h, pt, sl, window)
    got = out["y"].dropna()
    assert sorted(prices.index.get_indexer(got.index)) == sorted(labels)
    for ts, y in got.items():
        t = prices.index.get_loc(ts)
        assert y == labels[t]
        assert out["t1"].iloc[t] == prices.index[ends[t]]
    # early touches exist, so t1 is not always the vertical barrier
    pos = prices.index.get_indexer(got.index)
    assert (prices.index.get_indexer(out["t1"].loc[got.index]) - pos < h).mean() > 0.3


def test_extra_features_and_errors(prices: pd.DataFrame) -> None:
    extra = pd.DataFrame({"my_feat": np.arange(len(prices), dtype=float)}, index=prices.index)
    ds = make_dataset(prices, ["ret_1"], extra_features=extra)
    assert ds.feature_names == ("ret_1", "my_feat")
    with pytest.raises(ValueError, match="horizon"):
        make_dataset(prices, ["ret_1"], horizon=0)
    with pytest.raises(ValueError, match="no complete rows"):
        make_dataset(prices.iloc[:30], ["ret_21"], horizon=10)


def test_time_split_purges_overlapping_labels(prices: pd.DataFrame) -> None:
    ds = make_dataset(prices, FEATURES, horizon=10)
    train, test = time_split(ds, test_fraction=0.3, embargo=3)
    assert train.t1.max() < test.X.index.min()
    assert train.X.index.max() < test.X.index.min()
    # the 10 rows whose labels reach the test, plus the embargo, are gone
    assert len(train) + len(test) == len(ds) - 10 - 3
