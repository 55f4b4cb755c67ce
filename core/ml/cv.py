"""Purged cross-validation for labels that span several bars (López de Prado, 2018, ch. 7).

A row observed at t with label end ``t1`` has the label window ``[t, t1]``. A training
row is kept only if its window does not intersect the test rows' time span
``[min t, max t1]``; after each test block ``embargo`` further rows are dropped, because
features with memory leak test information into the rows just after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

Split = tuple[np.ndarray, np.ndarray]


def _check_t1(t1: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(t1, pd.Series):
        raise TypeError("t1 must be a Series: index = row time, values = label end time")
    if not t1.index.is_monotonic_increasing:
        raise ValueError("t1 index (row times) must be sorted ascending")
    if t1.isna().any():
        raise ValueError("t1 has missing label end times; drop rows without a complete label")
    start = t1.index.to_numpy()
    end = t1.to_numpy()
    if np.any(end < start):
        raise ValueError("every label end t1 must be at or after its row time")
    return start, end


def purge_train(t1: pd.Series, train: np.ndarray, test: np.ndarray, embargo: int = 0) -> np.ndarray:
    """Positions in ``train`` whose label windows do not overlap the test span.

    The test span is ``[min(start[test]), max(t1[test])]``; with ``embargo > 0`` the first
    ``embargo`` rows after the span are dropped too.
    """
    start, end = _check_t1(t1)
    if test.size == 0:
        return np.asarray(train)
    span_lo = start[test].min()
    span_hi = end[test].max()
    train = np.asarray(train)
    keep = (end[train] < span_lo) | (start[train] > span_hi)
    if embargo > 0:
        first_after = int(np.searchsorted(start, span_hi, side="right"))
        keep &= ~((train >= first_after) & (train < first_after + embargo))
    kept: np.ndarray = train[keep]
    return kept


@dataclass(frozen=True)
class PurgedKFold:
    """K contiguous test blocks in time; training rows purged and embargoed around each.

    Parameters
    ----------
    n_splits : int
        Number of folds (>= 2).
    embargo_pct : float
        Share of all rows embargoed after each test block (``ceil(pct * n)`` rows).

    >>> idx = pd.bdate_range("2020-01-01", periods=10)
    >>> t1 = pd.Series(idx.shift(2), index=idx)  # 2-bar labels
    >>> train, test = next(PurgedKFold(n_splits=2).split(t1))
    >>> test.tolist(), train.tolist()
    ([0, 1, 2, 3, 4], [7, 8, 9])
    """

    n_splits: int = 5
    embargo_pct: float = 0.0

    def __post_init__(self) -> None:
        if self.n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got {self.n_splits}")
        if not 0.0 <= self.embargo_pct < 1.0:
            raise ValueError(f"embargo_pct must be in [0, 1), got {self.embargo_pct}")

    def get_n_splits(self) -> int:
        """Number of folds."""
        return self.n_splits

    def split(self, t1: pd.Series) -> Iterator[Split]:
        """Yield ``(train_positions, test_positions)`` for each fold, in time order."""
        _check_t1(t1)
        n = len(t1)
        if n < self.n_splits:
            raise ValueError(f"{n} rows cannot be split into {self.n_splits} folds")
        embargo = math.ceil(self.embargo_pct * n)
        everything = np.arange(n)
        for test in np.array_split(everything, self.n_splits):
            train = np.setdiff1d(everything, test, assume_unique=True)
            yield purge_train(t1, train, test, embargo), test


def purged_walk_forward_splits(
    t1: pd.Series,
    n_splits: int,
    *,
    train_size: int | None = None,
    test_size: int | None = None,
) -> list[Split]:
    """Forward-only splits: each test block is preceded by its (purged) training rows.

    Parameters
    ----------
    t1 : Series
        Label end time per row (index = row time, sorted).
    n_splits : int
        Number of consecutive test blocks at the end of the sample.
    train_size : int, optional
        Rolling window of training rows; None trains on everything before the test
        (anchored / expanding).
    test_size : int, optional
        Rows per test block; default ``n // (n_splits + 1)``.

    Returns
    -------
    list of (train_positions, test_positions)
        Training rows all end (``t1``) before the first test row starts.

    >>> idx = pd.bdate_range("2020-01-01", periods=12)
    >>> t1 = pd.Series(idx.shift(2), index=idx)
    >>> [(tr.tolist(), te.tolist()) for tr, te in purged_walk_forward_splits(t1, 2)]
    [([0, 1], [4, 5, 6, 7]), ([0, 1, 2, 3, 4, 5], [8, 9, 10, 11])]
    """
    _check_t1(t1)
    n = len(t1)
    if n_splits < 1:
        raise ValueError(f"n_splits must be >= 1, got {n_splits}")
    test_size = test_size or n // (n_splits + 1)
    first = n - n_splits * test_size
    if test_size < 1 or first < 1:
        raise ValueError(f"{n} rows are too few for {n_splits} test blocks of {test_size}")
    splits = []
    for k in range(n_splits):
        lo = first + k * test_size
        test = np.arange(lo, lo + test_size)
        begin = 0 if train_size is None else max(0, lo - train_size)
        train = purge_train(t1, np.arange(begin, lo), test)
        if train.size == 0:
            raise ValueError(f"fold {k}: no training rows left after purging; use more data")
        splits.append((train, test))
    return splits


__all__ = ["PurgedKFold", "Split", "purge_train", "purged_walk_forward_splits"]
