"""Regime gating of strategy positions without look-ahead: the backtest's regime filter.

The HMM is fitted on a training window that ends before the first test bar, then run as
a forward filter with those fixed parameters over the whole history, so the probability
at bar t uses bars up to t and no parameter has seen the test window. When the history
before the test window is too short, the first ``train_bars`` bars are used for training
and the strategy stays flat over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core.regime._fit import fit_regimes
from core.regime._spec import RegimeSpec
from core.strategies.filters import confidence_scale, regime_filter

MIN_TEST_BARS = 30
"""Fewest bars a test window needs after the training bars."""


@dataclass(frozen=True)
class TrainingWindow:
    """The bars a regime model is fitted on, and the bars to keep flat because of it.

    Attributes
    ----------
    bars : DataFrame
        The training prices.
    flat_until : Timestamp or None
        Last training bar inside the test window (positions are flat up to it), or None
        when the training bars all precede the test window.
    """

    bars: pd.DataFrame
    flat_until: pd.Timestamp | None


def training_window(
    history: pd.DataFrame, first_bar: pd.Timestamp, train_bars: int
) -> TrainingWindow:
    """The last ``train_bars`` bars before ``first_bar``; when there are fewer, the first
    ``train_bars`` bars of ``history``, kept flat.

    >>> idx = pd.bdate_range("2020-01-01", periods=200)
    >>> prices = pd.DataFrame({"close": range(1, 201)}, index=idx, dtype=float)
    >>> window = training_window(prices, idx[150], 100)
    >>> (len(window.bars), window.bars.index[-1] == idx[149], window.flat_until)
    (100, True, None)
    >>> training_window(prices, idx[50], 100).flat_until == idx[99]
    True
    """
    before = history.loc[history.index < first_bar]
    if len(before) >= train_bars:
        return TrainingWindow(before.iloc[-train_bars:], None)
    train = history.iloc[:train_bars]
    if len(history) - len(train) < MIN_TEST_BARS:
        raise ValueError(
            f"regime filter needs {train_bars} training bars plus a test "
            "window; pick a later start date or lower regime_train_bars"
        )
    return TrainingWindow(train, train.index[-1])


def gate_positions(
    positions: pd.Series,
    history: pd.DataFrame,
    *,
    mode: Literal["filter", "scale"],
    regimes: Sequence[str] = (),
    min_prob: float = 0.5,
    train_bars: int = 750,
    seed: int = 0,
) -> tuple[pd.Series, str]:
    """Gate (``"filter"``) or scale (``"scale"``) positions by forward-filtered regimes.

    Parameters
    ----------
    positions : Series
        Target positions on the test window (its index is the test bars).
    history : DataFrame
        Prices from the start of the data up to the last test bar (the training window
        is taken from it; bars after the test window must not be included).
    mode : {"filter", "scale"}
        ``filter`` keeps positions while the summed probability of ``regimes`` is at
        least ``min_prob``; ``scale`` multiplies them by the regime confidence.
    regimes : sequence of str
        Regimes to trade in (``filter``).
    min_prob : float
        Filter threshold in [0, 1].
    train_bars : int
        Bars the HMM is fitted on (see :func:`training_window`).
    seed : int
        Seed of the HMM fit.

    Returns
    -------
    (Series, str)
        The gated positions (same name and index as ``positions``) and a note for the
        user saying how the regimes were estimated.
    """
    window = training_window(history, positions.index[0], train_bars)
    train, flat_until = window.bars, window.flat_until
    fitted = fit_regimes(train, RegimeSpec(method="hmm", seed=seed))
    probs = fitted.model.fresh().filter(history).reindex(positions.index)
    if mode == "filter":
        gated = regime_filter(positions, probs, set(regimes), min_prob)
        what = f"trade only in {', '.join(regimes)} with P >= {min_prob}"
    else:
        gated = confidence_scale(positions, probs.max(axis=1))
        what = "positions scaled by regime confidence"
    if flat_until is not None:
        gated = gated.where(gated.index > flat_until, 0.0)
    note = (
        f"Regime {mode}: {what}; HMM fitted on {len(train)} bars "
        f"{train.index[0].date()}..{train.index[-1].date()}, filtered forward with fixed "
        "parameters" + (f"; flat until {flat_until.date()} (training bars)" if flat_until else "")
    )
    return gated.rename(positions.name), note


__all__ = ["MIN_TEST_BARS", "TrainingWindow", "gate_positions", "training_window"]
