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
