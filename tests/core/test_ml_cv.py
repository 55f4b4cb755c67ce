"""Purged K-fold and purged walk-forward splits: no label window overlaps a test span."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.ml.cv import PurgedKFold, purge_train, purged_walk_forward_splits
from core.ml.dataset import make_dataset


@pytest.fixture(scope="module")
def t1() -> pd.Series:
    prices = generate(SyntheticSpec(bars=1200, seed=11))[0]
    ds = make_dataset(prices, ["ret_1", "vol_21"], horizon=10, label="triple_barrier")
    return ds.t1


def _assert_no_overlap(t1: pd.Series, train: np.ndarray, test: np.ndarray) -> None:
    """Pairwise: every training window [t_j, t1_j] is disjoint from every test window."""
    start = t1.index.to_numpy()
    end = t1.to_numpy()
    tr_s, tr_e = start[train][:, None], end[train][:, None]
    te_s, te_e = start[test][None, :], end[test][None, :]
    overlaps = (tr_s <= te_e) & (te_s <= tr_e)
    assert not overlaps.any(), f"{int(overlaps.sum())} overlapping (train, test) label windows"


def test_purged_kfold_has_no_overlap_and_embargo(t1: pd.Series) -> None:
    cv = PurgedKFold(n_splits=5, embargo_pct=0.02)
    n = len(t1)
    embargo = math.ceil(0.02 * n)
    seen = []
    purged_total = 0
    for train, test in cv.split(t1):
        _assert_no_overlap(t1, train, test)
        assert np.all(np.diff(test) == 1)  # contiguous test block
        seen.append(test)
        after = np.searchsorted(t1.index.to_numpy(), t1.iloc[test].max(), side="right")
        assert not np.isin(np.arange(after, min(after + embargo, n)), train).any()
        # nothing more is dropped than needed: every other row that overlaps no test
        # window, pairwise, and lies outside the embargo is kept for training
        start, end = t1.index.to_numpy(), t1.to_numpy()
        embargoed = set(range(after, min(after + embargo, n)))
        keep = [
            j
            for j in range(n)
            if j not in set(test)
            and j not in embargoed
            and not ((start[j] <= end[test]) & (start[test] <= end[j])).any()
        ]
        np.testing.assert_array_equal(train, keep)
        purged_total += n - len(test) - len(train)
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(n))
    assert purged_total > 0  # labels span up to 10 bars, so some rows are purged


def test_unpurged_kfold_would_overlap(t1: pd.Series) -> None:
    """Control: naive K-fold training sets do overlap test label windows."""
    n = len(t1)
    test = np.arange(n // 5, 2 * n // 5)
    naive = np.setdiff1d(np.arange(n), test)
    with pytest.raises(AssertionError, match="overlapping"):
        _assert_no_overlap(t1, naive, test)
    _assert_no_overlap(t1, purge_train(t1, naive, test), test)


@pytest.mark.parametrize("train_size", [None, 300])
def test_purged_walk_forward_splits(t1: pd.Series, train_size: int | None) -> None:
    splits = purged_walk_forward_splits(t1, 4, train_size=train_size)
    assert len(splits) == 4
    previous_end = -1
    for train, test in splits:
        _assert_no_overlap(t1, train, test)
        assert train.max() < test.min()  # forward only
        assert t1.iloc[train].max() < t1.index[test[0]]
        assert test[0] > previous_end
        previous_end = test[-1]
        if train_size is not None:
            assert train.min() >= test[0] - train_size
    assert previous_end == len(t1) - 1


def test_split_validation() -> None:
    with pytest.raises(ValueError, match="n_splits"):
        PurgedKFold(n_splits=1)
    idx = pd.bdate_range("2020-01-01", periods=5)
    with pytest.raises(ValueError, match="after its row time"):
        list(PurgedKFold(n_splits=2).split(pd.Series(idx.shift(-1), index=idx)))
