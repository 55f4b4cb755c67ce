"""Regime service on seeded synthetic prices with a planted bull -> bear switch at the end.

The history before the switch visits every regime in fixed blocks, so the four fitted
states land on the four labels; the last 230 bars are 150 bull bars, then 80 bear bars.
(On seeds 0-11 the causal detector calls the last bar bear and the last bull bar bull.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.services import regime
from app.services.data import DataValidationError, load_prices
from core.regime import LABELS

DRIFT = {"bull": 0.30, "bear": -0.40, "sideways": 0.0, "volatile": 0.0}  # annual
VOL = {"bull": 0.12, "bear": 0.30, "sideways": 0.05, "volatile": 0.75}
BLOCKS = [("bull", 120), ("sideways", 120), ("bear", 120), ("volatile", 60)] * 4
PLANTED = [("bull", 150), ("bear", 80)]
FIRST_FIT = 252  # the causal default: the first fit uses 252 bars, earlier bars get none


def _planted(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks = BLOCKS + PLANTED
    returns = np.concatenate(
        [rng.normal(DRIFT[k] / 252, VOL[k] / np.sqrt(252), n) for k, n in blocks]
    )
    truth = np.concatenate([[k] * n for k, n in blocks])
    index = pd.bdate_range("2005-01-03", periods=returns.size, name="date")
    return pd.DataFrame({"close": 100 * np.exp(np.cumsum(returns))}, index=index), truth


def _csv(prices: pd.DataFrame, path: Path) -> Path:
    prices.reset_index().to_csv(path, index=False, date_format="%Y-%m-%d")
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_current_regime_is_the_planted_bear_after_a_bull_run(tmp_path: Path, seed: int) -> None:
    prices, truth = _planted(seed)
    outcome = regime.fit_file(_csv(prices, tmp_path / "planted.csv"))
    n = len(prices)
    assert n == 1910 and truth[-1] == "bear" and truth[n - 81] == "bull"

    label, confidence, date = outcome.current
    filtered = outcome.result.filtered
    assert (label, date) == ("bear", prices.index[-1])
    assert confidence == pytest.approx(filtered.iloc[-1].max(), abs=1e-12)
    assert filtered.iloc[-1].idxmax() == "bear"
    # The last bull bar is called bull, and the segments on the whole agree with the truth.
    labels = outcome.result.label.to_numpy()
    assert labels[n - 81] == "bull"
    assert np.mean(labels[n - 200 : n - 80] == "bull") > 0.9  # bull run, after 30 bars
    assert np.mean(labels[n - 60 :] == "bear") > 0.85  # bear, after 20 bars
    assert outcome.prices["close"].to_numpy() == pytest.approx(prices["close"].to_numpy())


def test_the_current_regime_is_the_latest_bars(tmp_path: Path) -> None:
    prices, _ = _planted(1)
    crash = prices.iloc[[-1]] * 0.85  # one -15% day after the bear run
    crash.index = pd.DatetimeIndex([prices.index[-1] + pd.offsets.BDay()], name="date")
    outcome = regime.fit_file(_csv(pd.concat([prices, crash]), tmp_path / "crash.csv"))
    assert list(outcome.result.label.iloc[-2:]) == ["bear", "volatile"]
    label, confidence, date = outcome.current
    assert (label, date) == ("volatile", crash.index[0])
    assert confidence == pytest.approx(outcome.result.filtered.iloc[-1]["volatile"], abs=1e-12)


def test_filtered_probabilities_are_a_distribution_on_every_bar_and_causal(
    tmp_path: Path,
) -> None:
    prices, _ = _planted(4)
    outcome = regime.fit_file(_csv(prices, tmp_path / "p.csv"))
    frame = regime.filtered_frame(outcome)
    probs = frame[[f"p_{k}" for k in LABELS]].to_numpy()
    # Causal by default: no probabilities before the first fit, then a distribution per bar.
    assert np.isnan(probs[:FIRST_FIT]).all()
    assert not np.isnan(probs[FIRST_FIT:]).any()
    np.testing.assert_allclose(probs[FIRST_FIT:].sum(axis=1), 1.0, atol=1e-9)
    assert (probs[FIRST_FIT:] >= 0).all()
    # Confidence, entropy and label, recomputed from the probabilities.
    p = probs[FIRST_FIT:]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    np.testing.assert_allclose(frame["confidence"].to_numpy()[FIRST_FIT:], p.max(axis=1))
    np.testing.assert_allclose(
        frame["entropy"].to_numpy()[FIRST_FIT:], -plogp.sum(axis=1) / np.log(4), atol=1e-9
    )
    assert list(frame["label"].iloc[FIRST_FIT:]) == [LABELS[i] for i in p.argmax(axis=1)]
    # filtered_probabilities(prices) is the same causal history.
    direct = regime.filtered_probabilities(outcome.prices)
    assert list(direct.columns) == list(LABELS)
    np.testing.assert_allclose(direct.to_numpy(), outcome.result.filtered.to_numpy(), atol=1e-12)
    # Bar t does not depend on later bars: refitting on a cut series changes no earlier row.
    cut = regime.fit_file(_csv(prices.iloc[:1800], tmp_path / "cut.csv"))
    np.testing.assert_allclose(
        cut.result.filtered.to_numpy(), outcome.result.filtered.to_numpy()[:1800], atol=1e-12
    )


def test_in_sample_mode_is_labelled_and_fills_every_bar(tmp_path: Path) -> None:
    prices, _ = _planted(1)
    path = _csv(prices, tmp_path / "p.csv")
    outcome = regime.fit_file(path, history=regime.history_spec("in-sample"))
    assert outcome.result.history_mode == "in-sample"
    assert "SEES THE FUTURE" in outcome.result.history
    probs = outcome.result.filtered.to_numpy()
    assert not np.isnan(probs).any()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert outcome.current[0] == "bear"
    causal = regime.fit_file(path, history=regime.history_spec("expanding", refit_every=63))
    assert causal.result.history_mode == "expanding"
    assert "refit every 63 bars" in causal.result.history
    assert causal.result.refits is not None
    assert len(causal.result.refits) == -(-(len(prices) - FIRST_FIT) // 63)  # ceil: every 63


def test_bad_history_and_bad_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refit_every"):
        regime.history_spec("expanding", refit_every=0)
    with pytest.raises(ValueError, match="mode"):
        regime.history_spec("sometimes")  # type: ignore[arg-type]
    bad = tmp_path / "bad.csv"
    bad.write_text("date,close\n2021-01-04,-3\n")
    with pytest.raises(DataValidationError):
        regime.fit_file(bad)


def test_fit_dataset_covers_the_stored_prices_to_their_last_date() -> None:
    outcome = regime.fit_dataset("ohlcv_daily", "SP500")
    stored = load_prices("ohlcv_daily", "SP500")
    pd.testing.assert_frame_equal(outcome.prices, stored)
    assert outcome.result.history_mode == "expanding"  # causal by default, as for files
    assert outcome.result.filtered.iloc[:FIRST_FIT].isna().all().all()
    label, confidence, date = outcome.current
    assert date == stored.index[-1] and label in LABELS
    assert confidence == pytest.approx(outcome.result.filtered.iloc[-1].max(), abs=1e-12)


@pytest.mark.parametrize(("mode", "scored"), [("expanding", 800 - FIRST_FIT), ("in-sample", 800)])
def test_evaluate_scores_the_bars_its_history_covers_and_is_json(mode: str, scored: int) -> None:
    raw = regime.evaluate(seed=3, bars=800, history=regime.history_spec(mode))  # type: ignore[arg-type]
    assert (raw["history_mode"], raw["bars"], raw["scored_bars"], raw["method"]) == (
        mode, 800, scored, "hmm",
    )  # fmt: skip
    for key in ("accuracy", "oracle_accuracy", "smoothed_accuracy"):
        assert 0.0 <= float(raw[key]) <= 1.0  # type: ignore[arg-type]
    assert json.loads(json.dumps(raw, allow_nan=False)) == raw
