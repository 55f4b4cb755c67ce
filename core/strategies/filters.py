"""Wrappers that gate or scale an existing position path."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

REGIME_COLUMNS: tuple[str, ...] = ("bull", "bear", "sideways", "volatile")


def regime_filter(
    positions: pd.Series,
    regime_probs: pd.DataFrame,
    allowed: Iterable[str],
    min_prob: float = 0.5,
) -> pd.Series:
    """Keep positions only where the allowed regimes are probable enough.

    A bar keeps its position when the summed probability of the ``allowed`` regimes is
    at least ``min_prob``; otherwise it is flat. Bars missing from ``regime_probs`` are
    flat. ``regime_probs`` must be filtered (causal) probabilities: the row at bar t may
    only use data up to t.

    Parameters
    ----------
    positions : Series
        Target positions in ``[-1, 1]``.
    regime_probs : DataFrame
        Columns ``bull, bear, sideways, volatile`` (rows summing to 1).
    allowed : iterable of str
        Regimes in which trading is allowed.
    min_prob : float
        Threshold in ``[0, 1]``.

    >>> idx = pd.RangeIndex(2)
    >>> probs = pd.DataFrame({"bull": [1.0, 0.0], "bear": [0.0, 1.0],
    ...                       "sideways": 0.0, "volatile": 0.0}, index=idx)
    >>> regime_filter(pd.Series([1.0, 1.0], index=idx), probs, {"bull"}).tolist()
    [1.0, 0.0]
    """
    allowed = set(allowed)
    unknown = allowed - set(REGIME_COLUMNS)
    if unknown:
        raise ValueError(
            f"unknown regimes {sorted(unknown)}; expected a subset of {REGIME_COLUMNS}"
        )
    missing = set(REGIME_COLUMNS) - set(regime_probs.columns)
    if missing:
        raise ValueError(f"regime_probs lacks columns {sorted(missing)}")
    if not 0.0 <= min_prob <= 1.0:
        raise ValueError(f"min_prob must be within [0, 1], got {min_prob}")
    probs = regime_probs.reindex(positions.index)
    allowed_prob = probs[sorted(allowed)].sum(axis=1, min_count=1).to_numpy(dtype=np.float64)
    keep = np.nan_to_num(allowed_prob, nan=0.0) >= min_prob - 1e-12
    return pd.Series(
        np.where(keep, positions.to_numpy(dtype=np.float64), 0.0),
        index=positions.index,
        name=positions.name,
    )


def confidence_scale(positions: pd.Series, confidence: pd.Series) -> pd.Series:
    """Scale positions by a confidence in ``[0, 1]`` (clipped; missing bars count as 0).

    >>> idx = pd.RangeIndex(3)
    >>> confidence_scale(pd.Series([1.0, -1.0, 1.0], index=idx),
    ...                  pd.Series([0.5, 2.0, -1.0], index=idx)).tolist()
    [0.5, -1.0, 0.0]
    """
    conf = confidence.reindex(positions.index).to_numpy(dtype=np.float64)
    conf = np.clip(np.nan_to_num(conf, nan=0.0), 0.0, 1.0)
    return pd.Series(
        positions.to_numpy(dtype=np.float64) * conf, index=positions.index, name=positions.name
    )
