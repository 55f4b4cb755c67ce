"""Intraday bars through the stack: the bar interval read from the data, the seeded
synthetic minute generator, and the annualization of backtests, sweeps, features and
regimes on minute bars (known answers from independent numpy computations)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.backtest import BacktestSpec, run_backtest
from core.data.frequency import (
    bar_interval,
    freq_of,
    periods_per_year_for,
    periods_per_year_of,
)
from core.data.synthetic import session_bar_times, synthetic_intraday
from core.strategies import run_strategy
from core.sweep import run as sweep_run
from core.sweep.run import sweep

MINUTES_A_YEAR = 252 * 390  # 98,280: 252 sessions of 6.5 h


@pytest.fixture(scope="module")
def minute_bars() -> pd.DataFrame:
    """Twenty NYSE sessions of seeded 1-minute bars (7,800 bars), sigma 20%, drift 5%."""
    return synthetic_intraday(["AAA"], start="2024-03-04", days=20, seed=7)["AAA"]


@pytest.fixture(scope="module")
def week_of_minutes() -> pd.DatetimeIndex:
    return session_bar_times(start="2024-03-04", days=5, timeframe="1Min")


# --- the bar interval -------------------------------------------------------------------


def test_annualization_factors_match_the_backtest_spec() -> None:
    assert (
        periods_per_year_for("1min") == MINUTES_A_YEAR == BacktestSpec(freq="1min").periods_per_year
    )
    for freq in ("1D", "5min", "15min", "1h", "7D"):
        assert periods_per_year_for(freq) == BacktestSpec(freq=freq).periods_per_year
    assert periods_per_year_for("1h") == 252 * 6.5


@settings(max_examples=40, deadline=None)
@given(
    step=st.sampled_from([1, 5, 15, 60]),
    keep=st.floats(min_value=0.7, max_value=1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_intraday_interval_is_read_despite_missing_bars(
    week_of_minutes: pd.DatetimeIndex, step: int, keep: float, seed: int
) -> None:
    """Bars on a step-minute grid of NYSE sessions, a random share of them missing."""
    grid = week_of_minutes[(week_of_minutes.minute % step) == 0]
    rng = np.random.default_rng(seed)
    # keep most bars so that step-apart pairs stay common (>= a tenth of the same-day
    # steps): below ~0.6 an hourly grid (7 bars a day) can truly look like a 2 h one
    mask = rng.random(len(grid)) < keep
    mask[:2] = True  # two consecutive bars on the first day
    index = grid[mask]
    assert bar_interval(index) == pd.Timedelta(minutes=step)
    assert periods_per_year_of(index) == pytest.approx(252 * 390 / step, rel=1e-12)
    assert freq_of(index) == ("1h" if step == 60 else f"{step}min")


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 400), drop=st.floats(0.0, 0.3), seed=st.integers(0, 2**32 - 1))
def test_daily_bars_with_gaps_are_daily(n: int, drop: float, seed: int) -> None:
    days = pd.bdate_range("2010-01-04", periods=n)
    rng = np.random.default_rng(seed)
    index = days[rng.random(n) >= drop]
    if len(index) < 2:
        return
    assert bar_interval(index) >= pd.Timedelta(days=1)
    if np.median(np.diff(index.asi8)) == pd.Timedelta(days=1).value:
        assert periods_per_year_of(index) == 252.0


def test_daily_bars_stamped_at_the_close_are_daily() -> None:
    closes = pd.bdate_range("2024-01-02", periods=30) + pd.Timedelta(hours=21)
    assert bar_interval(closes) == pd.Timedelta(days=1)


@settings(max_examples=25, deadline=None)
@given(where=st.integers(1, 300), odd=st.integers(1, 59))
def test_an_off_grid_step_is_refused_as_irregular(
    week_of_minutes: pd.DatetimeIndex, where: int, odd: int
) -> None:
    grid = week_of_minutes[(week_of_minutes.minute % 5) == 0][:400]
    shifted = grid.to_numpy().copy()
    shifted[where] = shifted[where] + np.timedelta64(odd, "s")  # one bar off the 5-min grid
    with pytest.raises(ValueError, match="irregular"):
        bar_interval(pd.DatetimeIndex(shifted))


def test_mixed_daily_and_intraday_bars_are_ambiguous() -> None:
    daily = pd.bdate_range("2024-01-02", periods=20)
    index = daily.append(pd.DatetimeIndex(["2024-01-30 14:31", "2024-01-30 14:32"]))
    with pytest.raises(ValueError, match=r"ambiguous.*mixes daily and intraday"):
        bar_interval(index)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (pd.DatetimeIndex(["2024-01-02 14:31"]), "at least two bars"),
        (pd.DatetimeIndex(["2024-01-02 14:32", "2024-01-02 14:31"]), "strictly increasing"),
        (pd.DatetimeIndex(["2024-01-02 14:31", "2024-01-02 14:31"]), "strictly increasing"),
        (pd.RangeIndex(5), "needs timestamps"),
    ],
)
def test_unreadable_indexes_are_refused(index: pd.Index, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bar_interval(index)


# --- the synthetic generator ------------------------------------------------------------


def test_synthetic_minutes_are_right_labelled_on_nyse_hours() -> None:
    # 8 Mar 2024 is before the DST switch (open 14:30 UTC), 11 Mar after it (13:30 UTC);
    # 29 Nov 2024 closes early at 13:00 New York (18:00 UTC).
    index = session_bar_times(start="2024-03-08", days=2)
    first_day, second_day = index[index.day == 8], index[index.day == 11]
    assert (str(first_day[0]), str(first_day[-1])) == ("2024-03-08 14:31:00", "2024-03-08 21:00:00")
    assert (str(second_day[0]), str(second_day[-1])) == (
        "2024-03-11 13:31:00",
        "2024-03-11 20:00:00",
    )
    assert len(first_day) == len(second_day) == 390
    early = session_bar_times(start="2024-11-29", days=1, timeframe="5Min")
    assert (str(early[0]), str(early[-1]), len(early)) == (
        "2024-11-29 14:35:00",
        "2024-11-29 18:00:00",
        42,
    )
    assert session_bar_times(start="2024-12-25", days=1)[0].day == 26  # holiday skipped


def test_synthetic_intraday_is_seeded_and_canonical() -> None:
    a = synthetic_intraday(["X", "Y"], days=2, seed=3)
    b = synthetic_intraday(["X", "Y"], days=2, seed=3)
    c = synthetic_intraday(["X", "Y"], days=2, seed=4)
    pd.testing.assert_frame_equal(a["X"], b["X"])
    assert not np.allclose(a["X"]["close"], c["X"]["close"])
    frame = a["Y"]
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.name == "date" and frame.index.is_unique and frame.index.tz is None
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    np.testing.assert_array_equal(frame["open"].to_numpy()[1:], frame["close"].to_numpy()[:-1])
    with pytest.raises(ValueError, match="not an intraday timeframe"):
        synthetic_intraday(["X"], timeframe="1Day", seed=0)


def test_synthetic_realized_vol_and_correlation_are_the_planted_ones() -> None:
    bars = synthetic_intraday(["A", "B"], days=20, seed=11, volatility=0.30, correlation=0.5)
    logret = {s: np.diff(np.log(f["close"].to_numpy())) for s, f in bars.items()}
    for s in bars:  # 7,799 returns: the standard error of the vol estimate is ~0.8%
        realized = np.std(logret[s], ddof=1) * np.sqrt(MINUTES_A_YEAR)
        assert realized == pytest.approx(0.30, rel=0.04)
    assert np.corrcoef(logret["A"], logret["B"])[0, 1] == pytest.approx(0.5, abs=0.05)


# --- backtests, sweeps, features and regimes on minute bars -----------------------------


def _sharpe(returns: np.ndarray, periods: float) -> float:
    return float(np.mean(returns) / np.std(returns, ddof=1) * np.sqrt(periods))


def test_backtest_on_minute_bars_annualizes_with_98280_bars(minute_bars: pd.DataFrame) -> None:
    """Buy and hold without costs: from bar 1 the equity follows the close exactly (the
    order decided at bar 0's close fills at bar 1's open, which is bar 0's close)."""
    spec = BacktestSpec(fees=0.0, slippage=0.0)
    result = run_backtest(minute_bars, pd.Series(1.0, index=minute_bars.index), spec)
    assert result.spec.freq == "1min" and result.spec.periods_per_year == MINUTES_A_YEAR
    close = minute_bars["close"].to_numpy()
    returns = np.r_[0.0, close[1:] / close[:-1] - 1.0]
    np.testing.assert_allclose(result.returns.to_numpy(), returns, rtol=1e-9, atol=1e-12)
    assert result.metrics["sharpe"] == pytest.approx(_sharpe(returns, MINUTES_A_YEAR), rel=1e-9)
    vol = np.std(returns, ddof=1) * np.sqrt(MINUTES_A_YEAR)
    assert result.metrics["volatility"] == pytest.approx(vol, rel=1e-9)
    assert vol == pytest.approx(0.20, rel=0.05)  # the planted sigma
    # a freq given explicitly is kept (and scales the Sharpe by sqrt(252 / 98,280))
    daily = run_backtest(
        minute_bars, pd.Series(1.0, index=minute_bars.index), spec.model_copy(update={"freq": "1D"})
    )
    assert daily.spec.freq == "1D"
    assert daily.metrics["sharpe"] == pytest.approx(
        result.metrics["sharpe"] * np.sqrt(252 / MINUTES_A_YEAR), rel=1e-9
    )


def test_daily_specs_are_unchanged(minute_bars: pd.DataFrame) -> None:
    days = pd.bdate_range("2020-01-01", periods=50)
    spec = BacktestSpec()
    assert spec.for_index(days) is spec and spec.for_index(days).freq == "1D"
    assert BacktestSpec(freq="1h").for_index(days).freq == "1h"
    assert spec.for_index(days[:1]) is spec


def test_sweep_on_minute_bars_is_one_broadcast_run_equal_to_a_backtest(
    minute_bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    engine = sweep_run.run_blocked

    def counted(positions: object, n_combos: int, *args: object, **kwargs: object) -> object:
        calls.append(n_combos)
        assert kwargs["periods_per_year"] == MINUTES_A_YEAR
        return engine(positions, n_combos, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sweep_run, "run_blocked", counted)
    grid = {"fast": [5, 15, 30], "slow": [60, 120, 240]}
    result = sweep("ma_crossover", minute_bars, grid, fixed={"allow_short": True})
    assert calls == [result.combinations] == [9]  # every combination in one (T x N) run
    assert result.spec.freq == "1min"
    best = result.best_params("sharpe")
    reference = run_backtest(minute_bars, run_strategy("ma_crossover", minute_bars, best))
    row = result.best("sharpe")
    for name in ("sharpe", "total_return", "max_drawdown", "volatility", "turnover"):
        assert row[name] == pytest.approx(reference.metrics[name], rel=1e-9), name
    per_bar = reference.returns.to_numpy()
    assert row["sharpe"] == pytest.approx(_sharpe(per_bar, MINUTES_A_YEAR), rel=1e-9)


def test_minute_features_annualize_by_the_data(minute_bars: pd.DataFrame) -> None:
    from core.features import compute_features

    features = compute_features(minute_bars, ["vol_21", "vol_63", "parkinson_vol_21"])
    logret = np.diff(np.log(minute_bars["close"].to_numpy()))
    t = 500  # vol_21 at row t: the last 21 one-bar log returns, annualized per minute
    expected = np.std(logret[t - 21 : t], ddof=1) * np.sqrt(MINUTES_A_YEAR)
    assert features["vol_21"].iloc[t] == pytest.approx(expected, rel=1e-9)
    assert features["vol_63"].median() == pytest.approx(0.20, rel=0.1)
    daily = compute_features(
        minute_bars.set_axis(pd.bdate_range("1990-01-01", periods=len(minute_bars))), ["vol_21"]
    )
    ratio = features["vol_21"].iloc[t] / daily["vol_21"].iloc[t]
    assert ratio == pytest.approx(np.sqrt(MINUTES_A_YEAR / 252), rel=1e-9)


def test_vol_target_strategy_reads_the_minute_frequency(minute_bars: pd.DataFrame) -> None:
    from core.strategies.single import VolTargetTrendParams, vol_target_trend

    params = VolTargetTrendParams(target_vol=0.01, trend_window=50, vol_window=30)
    sized = vol_target_trend(minute_bars, params)
    logret = np.diff(np.log(minute_bars["close"].to_numpy()))
    longs = np.flatnonzero(sized.to_numpy() > 0)
    assert len(longs) > 50
    t = int(longs[10])
    vol = np.std(logret[t - 30 : t], ddof=1) * np.sqrt(MINUTES_A_YEAR)
    assert sized.iloc[t] == pytest.approx(min(0.01 / vol, 1.0), rel=1e-9)
    given = VolTargetTrendParams(
        target_vol=0.01, trend_window=50, vol_window=30, periods_per_year=252
    )
    assert given.bars_a_year(minute_bars.index) == 252


def test_regime_states_annualize_by_the_minute_frequency(minute_bars: pd.DataFrame) -> None:
    from core.regime import RegimeSpec, fit_regimes

    result = fit_regimes(minute_bars.iloc[:2000], RegimeSpec(n_states=2))
    states = result.states
    np.testing.assert_allclose(states["ann_return"], states["mean_return"] * MINUTES_A_YEAR)
    np.testing.assert_allclose(
        states["ann_volatility"], states["volatility"] * np.sqrt(MINUTES_A_YEAR)
    )


def test_walk_forward_on_minute_bars_annualizes_per_minute(minute_bars: pd.DataFrame) -> None:
    from core.walkforward import WalkForwardSpec
    from core.walkforward.rule import walk_forward_rule

    result = walk_forward_rule(
        minute_bars.iloc[:3000],
        "ma_crossover",
        {"fast": [5, 15], "slow": [60, 120]},
        WalkForwardSpec(train_bars=1000, test_bars=500),
    )
    oos = result.oos_returns.to_numpy()
    assert len(oos) > 100
    assert result.oos_sharpe == pytest.approx(_sharpe(oos, MINUTES_A_YEAR), rel=1e-9)


@pytest.mark.parametrize("timeframe", ["1Min", "5Min", "15Min", "1Hour"])
def test_timeframe_of_synthetic_bars_is_the_generated_one(timeframe: str) -> None:
    from core.data.frequency import TIMEFRAME_NAMES, timeframe_of
    from core.feeds.base import TIMEFRAMES

    bars = synthetic_intraday(["X"], days=3, timeframe=timeframe, seed=2)["X"]
    assert timeframe_of(bars.index) == timeframe
    assert bar_interval(bars.index) == TIMEFRAMES[timeframe]
    assert {name: pd.Timedelta(freq) for freq, name in TIMEFRAME_NAMES.items()} == TIMEFRAMES
    assert timeframe_of(pd.bdate_range("2024-01-02", periods=5)) == "1Day"
