"""Regime gating of positions (core/regime/_gating.py): the training window ends before the
test window, later data never changes earlier positions, and the gates do what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.regime import fit_regimes, gate_positions, training_window
from core.regime._spec import RegimeSpec


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=1200, seed=3))[0]


def _long(prices: pd.DataFrame, lo: int, hi: int) -> pd.Series:
    return pd.Series(1.0, index=prices.index[lo:hi], name="position")


def test_training_window_ends_before_the_test_window(prices: pd.DataFrame) -> None:
    window = training_window(prices, prices.index[600], 300)
    assert len(window.bars) == 300 and window.flat_until is None
    assert window.bars.index[0] == prices.index[300]
    assert window.bars.index[-1] == prices.index[599]  # the bar before the first test bar
    short = training_window(prices, prices.index[100], 300)
    assert short.bars.index[0] == prices.index[0] and len(short.bars) == 300
    assert short.flat_until == prices.index[299]
    with pytest.raises(ValueError, match="needs 1190 training bars plus a test window"):
        training_window(prices, prices.index[100], 1190)  # 10 bars left to test on


def test_positions_do_not_depend_on_later_bars(prices: pd.DataFrame) -> None:
    options = {"mode": "filter", "regimes": ["bull", "sideways"], "train_bars": 300}
    early, note = gate_positions(_long(prices, 600, 900), prices.iloc[:900], **options)
    later, _ = gate_positions(_long(prices, 600, 1200), prices, **options)
    pd.testing.assert_series_equal(early, later.loc[early.index])
    assert early.name == "position" and set(np.unique(early)) == {0.0, 1.0}
    first, last = prices.index[300].date(), prices.index[599].date()
    assert f"HMM fitted on 300 bars {first}..{last}" in note
    assert note.startswith("Regime filter: trade only in bull, sideways with P >= 0.5")


def test_filter_keeps_bars_where_the_allowed_regimes_are_probable(prices: pd.DataFrame) -> None:
    positions = _long(prices, 600, 1200)
    gated, _ = gate_positions(
        positions, prices, mode="filter", regimes=["volatile"], min_prob=0.6, train_bars=300
    )
    # Recompute the filtered probabilities independently from the same training window.
    model = fit_regimes(prices.iloc[300:600], RegimeSpec(method="hmm", seed=0)).model
    probs = model.fresh().filter(prices).reindex(positions.index)
    np.testing.assert_array_equal(gated.to_numpy(), (probs["volatile"] >= 0.6).astype(float))
    assert 0.1 < gated.mean() < 0.9  # the gate really opens and closes
    scaled, note = gate_positions(positions, prices, mode="scale", train_bars=300)
    np.testing.assert_allclose(scaled.to_numpy(), probs.max(axis=1).to_numpy())
    assert "positions scaled by regime confidence" in note


def test_training_bars_inside_the_test_window_stay_flat(prices: pd.DataFrame) -> None:
    gated, note = gate_positions(
        _long(prices, 100, 700), prices.iloc[:700], mode="scale", train_bars=300
    )
    assert (gated.loc[: prices.index[299]] == 0).all()
    assert (gated.loc[prices.index[300] :] > 0).all()
    assert f"flat until {prices.index[299].date()} (training bars)" in note
