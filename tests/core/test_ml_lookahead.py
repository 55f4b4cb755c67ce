"""Look-ahead detection: leaky functions are flagged, registered features and strategies pass."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data.synthetic import SyntheticSpec, generate
from core.features import available_features, compute_features
from core.ml.lookahead import lookahead_check
from core.strategies import STRATEGIES, run_strategy


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return generate(SyntheticSpec(bars=700, seed=4))[0]


def test_leaky_feature_is_flagged(prices: pd.DataFrame) -> None:
    def leaky(p: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "ok": p["close"].pct_change(),
                "next_close": p["close"].shift(-1),
                "centred_mean": p["close"].rolling(5, center=True).mean(),
            }
        )

    report = lookahead_check(leaky, prices, cuts=8, seed=1)
    assert report.leaky
    assert report.offending_columns == ("next_close", "centred_mean")
    first = min(report.cuts) - 1  # the last bar of the shortest truncation
    assert report.first_offending_bars["next_close"] == prices.index[first]
    assert (
        report.first_offending_bars["centred_mean"] == prices.index[first - 1]
    )  # needs bars t+1, t+2
    assert "next_close" in report.message()


def test_full_sample_normalisation_is_flagged(prices: pd.DataFrame) -> None:
    report = lookahead_check(lambda p: (p["close"] - p["close"].mean()).rename("z"), prices)
    assert report.leaky and report.first_offending_bars["z"] == prices.index[0]


def test_registered_features_have_no_lookahead(prices: pd.DataFrame) -> None:
    names = available_features(prices.columns)
    assert len(names) >= 30
    report = lookahead_check(lambda p: compute_features(p, names), prices, cuts=12, seed=0)
    assert not report.leaky, report.message()


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_strategies_have_no_lookahead(strategy: str, prices: pd.DataFrame) -> None:
    report = lookahead_check(lambda p: run_strategy(strategy, p), prices, cuts=8, seed=2)
    assert not report.leaky, report.message()


def test_validation(prices: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="cuts"):
        lookahead_check(lambda p: p["close"], prices, cuts=0)
    with pytest.raises(TypeError, match="DataFrame or Series"):
        lookahead_check(lambda p: p["close"].to_numpy(), prices)


# ----- the check run before training / model walk-forwards -------------------------------
def test_check_features_dispatches_on_what_it_is_given(prices: pd.DataFrame) -> None:
    from core.ml.lookahead import check_features

    names = check_features(["ret_1", "vol_21"], prices, horizon=5)
    assert names.method == "truncation" and not names.leaky and len(names.cuts) >= 2

    def leaky(p: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"ret_1": p["close"].pct_change(), "peek": p["close"].shift(-2)})

    report = check_features(leaky, prices)
    assert report.method == "truncation" and report.offending_columns == ("peek",)
    frame = check_features(leaky(prices), prices, horizon=3)
    assert frame.method.startswith("future-correlation screen") and frame.leaky
    assert frame.offending_columns == ("peek",) or "peek" in frame.offending_columns


def test_future_correlation_screen_against_scipy(prices: pd.DataFrame) -> None:
    """|Spearman IC| with the h-bar forward return vs 0.25 * sqrt(h), computed with scipy."""
    import numpy as np
    from scipy.stats import spearmanr

    from core.ml.lookahead import future_correlation_screen

    close = prices["close"]
    rng = np.random.default_rng(0)
    nxt = close.shift(-1) / close - 1
    noise = rng.normal(0, 1, len(close)) * nxt.std()
    frame = pd.DataFrame(
        {
            "next_return": nxt,
            "past_return": close.pct_change(),
            "half_leak": nxt + 3.0 * noise,  # IC ~ 0.3 with the next return
            "faint_leak": nxt + 6.0 * noise,  # IC ~ 0.16
        }
    )
    report = future_correlation_screen(frame, prices, horizon=1)

    def ic(col: str) -> float:
        ok = frame[col].notna() & nxt.notna()
        return float(spearmanr(frame[col][ok], nxt[ok]).statistic)

    expected = tuple(c for c in frame.columns if abs(ic(c)) >= 0.25)
    assert report.offending_columns == expected
    assert "next_return" in expected and "half_leak" in expected
    assert "faint_leak" not in expected and "past_return" not in expected
    assert f"{abs(ic('half_leak')):.2f}" in report.details["half_leak"]


def test_implausibility_thresholds_are_inclusive() -> None:
    from core.ml.lookahead import implausibility_warnings

    assert len(implausibility_warnings(sharpe=4.0, auc=0.9)) == 2
    assert implausibility_warnings(sharpe=3.99, auc=0.899) == []
    assert implausibility_warnings(sharpe=float("nan"), auc=None) == []
    assert "Sharpe 7.10" in implausibility_warnings(sharpe=7.1)[0]


def test_lookahead_error_names_the_feature_and_the_override(prices: pd.DataFrame) -> None:
    from core.ml.lookahead import LookaheadError

    report = lookahead_check(lambda p: p["close"].shift(-1).rename("tomorrow"), prices, cuts=4)
    message = str(LookaheadError(report))
    assert message.startswith("refused: feature(s) tomorrow")
    assert "override the look-ahead check explicitly" in message
    assert "--" not in message and "allow_lookahead" not in message  # the same on every front end
