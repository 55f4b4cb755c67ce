"""Target weights of a multi-asset book, decided causally at each close."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Weighting = Literal["equal", "inverse_vol"]


def target_weights(
    closes: pd.DataFrame,
    *,
    weighting: Weighting = "equal",
    vol_window: int = 63,
    gross: float = 1.0,
) -> pd.DataFrame:
    """Equal weights, or weights proportional to 1 / trailing volatility, summing to ``gross``.

    The volatility at bar t is the standard deviation of the last ``vol_window`` daily log
    returns up to t, so the weight decided at t's close uses no later bar. Bars where it
    is not yet defined get weight 0.

    Parameters
    ----------
    closes : DataFrame
        One close column per symbol.
    weighting : {"equal", "inverse_vol"}
        The scheme.
    vol_window : int
        Bars of the trailing volatility (``inverse_vol``).
    gross : float
        Sum of the weights on every bar (where defined).

    >>> closes = pd.DataFrame({"a": [1.0, 1.1, 1.0, 1.1], "b": [1.0, 1.01, 1.0, 1.01]})
    >>> target_weights(closes, weighting="inverse_vol", vol_window=2).round(3).iloc[-1].tolist()
    [0.095, 0.905]
    >>> target_weights(closes, gross=0.5).iloc[0].tolist()
    [0.25, 0.25]
    """
    if weighting == "equal":
        raw = pd.DataFrame(1.0, index=closes.index, columns=closes.columns)
    else:
        vol = np.log(closes).diff().rolling(vol_window).std()
        raw = 1.0 / vol
    weights = raw.div(raw.sum(axis=1), axis=0) * gross
    return weights.fillna(0.0)


__all__ = ["Weighting", "target_weights"]
