"""Supervised datasets: causal features at bar t, labels from the bars after t.

Every row carries ``t1``, the time its label is known (end of the label window). Cross
validation and walk-forward splits use ``t1`` to purge training rows whose label window
reaches into a test period, so training and test sets are always separated in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from core.features import compute_features

LabelKind = Literal["sign", "triple_barrier"]


@dataclass(frozen=True, kw_only=True)
class MLDataset:
    """Aligned features, binary labels and label end times.

    Attributes
    ----------
    X : DataFrame
        float64 features, one row per bar with complete lookback and label window.
    y : Series
        int 0/1 labels on the same index.
    t1 : Series
        Timestamp at which each row's label is resolved (index = row time, ``t1 >= t``).
    fwd_return : Series
        Simple return from the row's close to the close at ``t1``.
    feature_names : tuple of str
        Column order of ``X``.
    horizon : int
        Bars in the (vertical) label window.
    label : str
        ``"sign"`` or ``"triple_barrier"``.
    """

    X: pd.DataFrame
    y: pd.Series
    t1: pd.Series
    fwd_return: pd.Series
    feature_names: tuple[str, ...]
    horizon: int
    label: str

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, positions: np.ndarray | slice) -> MLDataset:
        """Rows at integer ``positions`` (kept in time order)."""
        return MLDataset(
            X=self.X.iloc[positions],
            y=self.y.iloc[positions],
            t1=self.t1.iloc[positions],
            fwd_return=self.fwd_return.iloc[positions],
            feature_names=self.feature_names,
            horizon=self.horizon,
            label=self.label,
        )


def feature_frame(
    prices: pd.DataFrame,
    feature_names: Sequence[str] | None,
    extra_features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Registered features (``core.features``) plus optional precomputed columns.

    ``extra_features`` must be on the price index and causal (value at t uses bars <= t);
    it is the hook for custom or planted features.
    """
    parts = []
    if feature_names:
        parts.append(compute_features(prices, list(feature_names)))
    if extra_features is not None:
        if not isinstance(extra_features, pd.DataFrame):
            raise TypeError("extra_features must be a DataFrame on the price index")
        parts.append(extra_features.reindex(prices.index).astype("float64"))
    if not parts:
        raise ValueError("no features: pass feature_names and/or extra_features")
    frame = pd.concat(parts, axis=1)
    if not frame.columns.is_unique:
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ValueError(f"duplicate feature columns: {dupes}")
    return frame


def _path_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    """(T - h, h) matrix: ``close[t + k] / close[t] - 1`` for k = 1..h."""
    n = len(close) - horizon
    offsets = np.arange(1, horizon + 1)
    paths: np.ndarray = close[np.arange(n)[:, None] + offsets[None, :]] / close[:n, None] - 1.0
    return paths


def make_labels(
    close: pd.Series,
    *,
    horizon: int = 5,
    label: LabelKind = "sign",
    pt_sl: tuple[float, float] = (1.0, 1.0),
    vol_window: int = 20,
) -> pd.DataFrame:
    """Binary labels from future closes, with the time each label is resolved.

    ``"sign"``: ``y = 1`` if ``close[t + h] / close[t] - 1 > 0``; ``t1 = t + h``.

    ``"triple_barrier"`` (López de Prado, 2018, ch. 3): with ``sigma_t`` the rolling
    standard deviation of simple returns over ``vol_window`` bars (known at t) scaled to the
    horizon, ``sigma_t * sqrt(h)``, the upper barrier is ``+pt * sigma_t`` and the lower
    ``-sl * sigma_t`` on the path ``close[t + k] / close[t] - 1``, k = 1..h. ``y = 1`` if
    the upper barrier is touched first, 0 if the lower one is, else the sign of the return
    at the vertical barrier ``t + h``; ``t1`` is the first touch (or ``t + h``).

    Returns
    -------
    DataFrame
        Columns ``y`` (float 0/1, NaN where undefined), ``t1`` and ``fwd_return``, on the
        close index; the last ``horizon`` rows (and the vol warm-up for triple barrier)
        are NaN / NaT.

    >>> idx = pd.bdate_range("2020-01-01", periods=4)
    >>> make_labels(pd.Series([1.0, 2.0, 1.5, 1.0], index=idx), horizon=1)["y"].tolist()
    [1.0, 0.0, 0.0, nan]
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    if label not in ("sign", "triple_barrier"):
        raise ValueError(f"label must be 'sign' or 'triple_barrier', got {label!r}")
    values = close.to_numpy(dtype=np.float64)
    n = len(values)
    index = close.index
    y = np.full(n, np.nan)
    t1_pos = np.full(n, -1, dtype=np.int64)
    fwd = np.full(n, np.nan)
    m = n - horizon
    if m > 0:
        paths = _path_returns(values, horizon)
        if label == "sign":
            fwd[:m] = paths[:, -1]
            y[:m] = (paths[:, -1] > 0).astype(np.float64)
            t1_pos[:m] = np.arange(m) + horizon
        else:
            if vol_window < 2:
                raise ValueError(f"vol_window must be >= 2, got {vol_window}")
            pt, sl = pt_sl
            if pt <= 0 or sl <= 0:
                raise ValueError(f"pt_sl multipliers must be > 0, got {pt_sl}")
            ret = close.pct_change()
            sigma = (ret.rolling(vol_window).std() * np.sqrt(horizon)).to_numpy()[:m]
            up = paths >= (pt * sigma)[:, None]
            down = paths <= (-sl * sigma)[:, None]
            first_up = np.where(up.any(axis=1), up.argmax(axis=1), horizon)
            first_down = np.where(down.any(axis=1), down.argmax(axis=1), horizon)
            hit = np.minimum(first_up, first_down)
            end = np.minimum(hit, horizon - 1)
            rows = np.arange(m)
            final = paths[rows, end]
            lab = np.where(
                first_up < first_down, 1.0, np.where(first_down < first_up, 0.0, final > 0)
            ).astype(np.float64)
            valid = np.isfinite(sigma) & (sigma > 0)
            y[:m] = np.where(valid, lab, np.nan)
            fwd[:m] = np.where(valid, final, np.nan)
            t1_pos[:m] = np.where(valid, rows + end + 1, -1)
    t1 = pd.Series(pd.NaT, index=index, dtype=index.dtype if len(index) else "datetime64[ns]")
    ok = t1_pos >= 0
    t1.iloc[np.flatnonzero(ok)] = index[t1_pos[ok]]
    return pd.DataFrame({"y": y, "t1": t1, "fwd_return": fwd}, index=index)


def make_dataset(
    prices: pd.DataFrame,
    feature_names: Sequence[str] | None,
    *,
    horizon: int = 5,
    label: LabelKind = "sign",
    pt_sl: tuple[float, float] = (1.0, 1.0),
    vol_window: int = 20,
    extra_features: pd.DataFrame | None = None,
) -> MLDataset:
    """Build an :class:`MLDataset` from a canonical price frame.

    Parameters
    ----------
    prices : DataFrame
        Canonical frame (sorted unique DatetimeIndex, ``close`` required).
    feature_names : sequence of str or None
        Registered features (see :func:`core.features.list_features`).
    horizon : int
        Label window in bars.
    label : {"sign", "triple_barrier"}
        See :func:`make_labels`.
    pt_sl : (float, float)
        Profit-taking and stop-loss multiples of the horizon volatility (triple barrier).
    vol_window : int
        Rolling window of the barrier volatility.
    extra_features : DataFrame, optional
        Precomputed causal columns appended to the registered features.

    Returns
    -------
    MLDataset
        Rows with any NaN feature (incomplete lookback) or an incomplete label window are
        dropped.
    """
    if not isinstance(prices, pd.DataFrame) or "close" not in prices.columns:
        raise ValueError("prices must be a DataFrame with a 'close' column")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise ValueError("prices must have a DatetimeIndex")
    feats = feature_frame(prices, feature_names, extra_features)
    labels = make_labels(
        prices["close"], horizon=horizon, label=label, pt_sl=pt_sl, vol_window=vol_window
    )
    keep = feats.notna().all(axis=1).to_numpy() & labels["y"].notna().to_numpy()
    if not keep.any():
        raise ValueError(
            f"no complete rows: {len(prices)} bars are too few for the features' lookback "
            f"plus a {horizon}-bar label window"
        )
    rows = labels.loc[keep]
    return MLDataset(
        X=feats.loc[keep],
        y=rows["y"].astype(np.int64).rename("y"),
        t1=rows["t1"].rename("t1"),
        fwd_return=rows["fwd_return"].rename("fwd_return"),
        feature_names=tuple(feats.columns),
        horizon=horizon,
        label=label,
    )


def time_split(
    dataset: MLDataset, *, test_fraction: float = 0.25, embargo: int = 0
) -> tuple[MLDataset, MLDataset]:
    """Chronological train/test split; train rows whose ``t1`` reaches the test are purged.

    Parameters
    ----------
    test_fraction : float
        Share of the (latest) rows used for testing.
    embargo : int
        Training labels must end ``embargo`` rows before the first test row (a gap
        beyond the purge).
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n = len(dataset)
    start = round(n * (1 - test_fraction))
    if start < 1 or start >= n:
        raise ValueError(f"dataset of {n} rows is too small to split")
    cutoff = dataset.X.index[max(start - embargo, 0)]
    train = np.flatnonzero((dataset.t1.iloc[:start] < cutoff).to_numpy())
    if train.size == 0:
        raise ValueError("no training rows left after purging; use more data")
    return dataset.subset(train), dataset.subset(np.arange(start, n))


__all__ = ["LabelKind", "MLDataset", "feature_frame", "make_dataset", "make_labels", "time_split"]
