"""Single-asset strategies: ``(prices, params) -> target positions``.

Each function takes a canonical price frame (``close`` required; ``open/high/low`` used
where documented) and a frozen params model, and returns a float Series in ``[-1, 1]``
on the same index: the target fraction of equity to hold, decided at the close of each
bar from data up to and including that bar. Warm-up bars are flat (0.0), never NaN.
How and when a target is filled is the backtester's business (see
:data:`core.backtest.EXECUTION`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from core.data.frequency import periods_per_year_of
from core.strategies._indicators import (
    cross_positions,
    realized_vol,
    rolling_mean,
    rolling_zscore,
    rsi,
    state_machine,
)

MAX_WINDOW = 100_000
"""Longest window any strategy accepts (bars); a run also needs at least this many bars."""


class StrategyParams(BaseModel):
    """Base class: frozen, keyword-only, unknown fields rejected, numbers finite.

    Every numeric field declares its valid range (``ge``/``gt``/``le``), so a value
    such as ``fast=1e23`` is refused before any work starts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _exact_kinds(cls, value: object, info: ValidationInfo) -> object:
        """Numbers must be numbers (not True, not "20") and flags true or false (not 1)."""
        annotation = cls.model_fields[info.field_name or ""].annotation
        if annotation in (int, float) and isinstance(value, bool | np.bool_ | str | bytes):
            raise ValueError(f"must be a number, not {value!r}")
        if annotation is bool and not isinstance(value, bool | np.bool_):
            raise ValueError(f"must be true or false, not {value!r}")
        return value


class BuyAndHoldParams(StrategyParams):
    """Buy and hold has no parameters."""


class MACrossoverParams(StrategyParams):
    """Moving-average crossover: long while SMA(fast) > SMA(slow)."""

    fast: int = Field(default=20, ge=1, le=MAX_WINDOW, description="fast SMA window (bars)")
    slow: int = Field(default=50, ge=2, le=MAX_WINDOW, description="slow SMA window (bars)")
    allow_short: bool = Field(default=False, description="short while SMA(fast) < SMA(slow)")
    entry: Literal["state", "cross"] = Field(
        default="state",
        description=(
            "state: long whenever SMA(fast) > SMA(slow), from the first bar both exist; "
            "cross: trade only on a real crossover (vectorbt crossed_above, "
            "backtesting.py crossover)"
        ),
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MACrossoverParams:
        if self.fast >= self.slow:
            raise ValueError(
                f"fast window ({self.fast}) must be smaller than slow window ({self.slow})"
            )
        return self


class DonchianParams(StrategyParams):
    """Donchian channel breakout."""

    window: int = Field(default=20, ge=2, le=MAX_WINDOW, description="entry channel length (bars)")
    exit_window: int = Field(
        default=10, ge=1, le=MAX_WINDOW, description="exit channel length (bars)"
    )
    allow_short: bool = False


class MeanReversionParams(StrategyParams):
    """Mean reversion on a centred oscillator.

    ``indicator="zscore"`` uses the rolling z-score of close; thresholds are in standard
    deviations. ``indicator="rsi"`` uses ``RSI - 50``; thresholds are RSI points away
    from 50 (``entry=20`` means long below 30, short above 70).
    Long when the oscillator falls below ``-entry``; exit once it is back at ``-exit``
    or above (shorts mirror this).
    """

    indicator: Literal["zscore", "rsi"] = "zscore"
    window: int = Field(default=20, ge=2, le=MAX_WINDOW)
    entry: float = Field(default=2.0, gt=0.0, le=100.0)
    exit: float = Field(default=0.0, ge=0.0, le=100.0)
    allow_short: bool = False

    @model_validator(mode="after")
    def _thresholds(self) -> MeanReversionParams:
        if self.exit >= self.entry:
            raise ValueError(f"exit threshold ({self.exit}) must be below entry ({self.entry})")
        if self.indicator == "rsi" and self.entry >= 50:
            raise ValueError(f"rsi entry is measured from 50 and must be < 50, got {self.entry}")
        return self


class TSMomentumParams(StrategyParams):
    """Time-series momentum: the sign of the past ``lookback``-bar return."""

    lookback: int = Field(default=126, ge=1, le=MAX_WINDOW)
    allow_short: bool = True


class VolTargetTrendParams(StrategyParams):
    """Trend filter scaled to a volatility target."""

    trend_window: int = Field(
        default=100, ge=2, le=MAX_WINDOW, description="SMA window of the trend filter"
    )
    vol_window: int = Field(
        default=20, ge=2, le=MAX_WINDOW, description="realized-volatility window"
    )
    target_vol: float = Field(
        default=0.15, gt=0.0, le=10.0, description="annualized target volatility"
    )
    max_leverage: float = Field(default=1.0, gt=0.0, le=1.0, description="cap on |position|")
    allow_short: bool = False
    periods_per_year: float = Field(
        default=252.0,
        gt=0.0,
        le=1_000_000.0,
        description="bars a year annualizing the realized volatility; read from the data's "
        "bar interval unless given (252 daily, 98,280 for 1-minute bars)",
    )

    def bars_a_year(self, index: pd.Index) -> float:
        """``periods_per_year`` when given, else the data's
        (:func:`core.data.frequency.periods_per_year_of`; 252 without a readable interval)."""
        if "periods_per_year" in self.model_fields_set:
            return self.periods_per_year
        if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
            return self.periods_per_year
        return periods_per_year_of(index)


def _close(prices: pd.DataFrame) -> np.ndarray:
    if "close" not in prices.columns:
        raise ValueError("prices must have a 'close' column")
    close: np.ndarray = prices["close"].to_numpy(dtype=np.float64)
    return close


def _series(values: np.ndarray, prices: pd.DataFrame, name: str) -> pd.Series:
    out = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    return pd.Series(out, index=prices.index, name=name)


def buy_and_hold(prices: pd.DataFrame, params: BuyAndHoldParams | None = None) -> pd.Series:
    """Fully long on every bar.

    >>> idx = pd.bdate_range("2020-01-01", periods=3)
    >>> buy_and_hold(pd.DataFrame({"close": [1.0, 2.0, 3.0]}, index=idx)).tolist()
    [1.0, 1.0, 1.0]
    """
    _close(prices)
    return pd.Series(1.0, index=prices.index, name="buy_and_hold")


def ma_crossover_positions(
    fast_ma: np.ndarray,
    slow_ma: np.ndarray,
    allow_short: bool = False,
    entry: Literal["state", "cross"] = "state",
) -> np.ndarray:
    """Positions from (possibly 2-D) fast/slow moving averages; NaN compares as flat.

    ``entry="cross"`` waits for a real crossover (:func:`cross_positions`, along the last
    axis); ``"state"`` holds whenever the averages are apart.
    """
    if entry == "cross":
        pos = cross_positions(np.atleast_2d(fast_ma), np.atleast_2d(slow_ma), allow_short)[0]
        return pos.reshape(np.shape(fast_ma)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        long = fast_ma > slow_ma
        if not allow_short:
            return long.astype(np.float64)
        return long.astype(np.float64) - (fast_ma < slow_ma).astype(np.float64)


def ma_crossover(prices: pd.DataFrame, params: MACrossoverParams | None = None) -> pd.Series:
    """Long while SMA(fast) > SMA(slow); flat (or short) otherwise.

    With ``entry="cross"`` a position opens only on a real crossover, so a fast average
    that is already above the slow one when both first exist does not buy.
    """
    params = params or MACrossoverParams()
    close = _close(prices)
    pos = ma_crossover_positions(
        rolling_mean(close, params.fast),
        rolling_mean(close, params.slow),
        params.allow_short,
        params.entry,
    )
    return _series(pos, prices, "ma_crossover")


def donchian_breakout(prices: pd.DataFrame, params: DonchianParams | None = None) -> pd.Series:
    """Enter on a break of the prior ``window``-bar high (low); exit on the ``exit_window`` channel.

    Channels use ``high``/``low`` when present, else ``close``, and exclude the current
    bar, so the signal at bar t compares close[t] with bars t-window..t-1.
    """
    params = params or DonchianParams()
    close = _close(prices)
    high = prices["high"] if "high" in prices.columns else prices["close"]
    low = prices["low"] if "low" in prices.columns else prices["close"]
    upper = high.rolling(params.window).max().shift(1).to_numpy()
    lower = low.rolling(params.window).min().shift(1).to_numpy()
    exit_upper = high.rolling(params.exit_window).max().shift(1).to_numpy()
    exit_lower = low.rolling(params.exit_window).min().shift(1).to_numpy()
    with np.errstate(invalid="ignore"):
        long_entry = close > upper
        long_exit = close < exit_lower
        short_entry = (close < lower) if params.allow_short else np.zeros_like(long_entry)
        short_exit = close > exit_upper
    return _series(
        state_machine(long_entry, long_exit, short_entry, short_exit), prices, "donchian_breakout"
    )


def mean_reversion(prices: pd.DataFrame, params: MeanReversionParams | None = None) -> pd.Series:
    """Fade stretched moves of a rolling z-score or RSI (see :class:`MeanReversionParams`)."""
    params = params or MeanReversionParams()
    close = _close(prices)
    if params.indicator == "zscore":
        osc = rolling_zscore(close, params.window)
    else:
        osc = rsi(close, params.window) - 50.0
    with np.errstate(invalid="ignore"):
        long_entry = osc < -params.entry
        long_exit = osc >= -params.exit
        short_entry = (osc > params.entry) if params.allow_short else np.zeros_like(long_entry)
        short_exit = osc <= params.exit
    return _series(
        state_machine(long_entry, long_exit, short_entry, short_exit), prices, "mean_reversion"
    )


def ts_momentum(prices: pd.DataFrame, params: TSMomentumParams | None = None) -> pd.Series:
    """Long (short) when ``close[t] / close[t - lookback] - 1`` is positive (negative)."""
    params = params or TSMomentumParams()
    close = _close(prices)
    past = np.full_like(close, np.nan)
    if params.lookback < len(close):
        past[params.lookback :] = close[: -params.lookback]
    with np.errstate(invalid="ignore"):
        sign = np.sign(close / past - 1.0)
    if not params.allow_short:
        sign = np.where(sign > 0, 1.0, 0.0)
    return _series(sign, prices, "ts_momentum")


def vol_target_trend(prices: pd.DataFrame, params: VolTargetTrendParams | None = None) -> pd.Series:
    """Trend direction (close vs SMA) times ``min(target_vol / realized_vol, max_leverage)``."""
    params = params or VolTargetTrendParams()
    close = _close(prices)
    trend = ma_crossover_positions(
        close, rolling_mean(close, params.trend_window), params.allow_short
    )
    vol = realized_vol(close, params.vol_window, params.bars_a_year(prices.index))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.minimum(params.target_vol / vol, params.max_leverage)
    scale = np.where(np.isfinite(scale), scale, 0.0)
    return _series(trend * scale, prices, "vol_target_trend")
