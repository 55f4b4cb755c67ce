"""The built-in feature catalogue: registers every standard indicator at import time.

Lookbacks are exact: on clean data a feature's first finite value is at row ``lookback``
(tests check this for every entry).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from core.data.frequency import periods_per_year_of
from core.features import indicators as ind
from core.features._feature import Feature, register

_C = ("close",)
_HL = ("high", "low")
_HLC = ("high", "low", "close")
_OC = ("open", "close")
_OHLC = ("open", "high", "low", "close")


def _add(
    name: str,
    inputs: tuple[str, ...],
    lookback: int,
    description: str,
    func: Callable[[pd.DataFrame], pd.Series],
) -> None:
    register(
        Feature(name=name, inputs=inputs, lookback=lookback, description=description, func=func)
    )


def bars_a_year(prices: pd.DataFrame) -> float:
    """Bars a year of the frame's timestamps (:func:`core.data.frequency.periods_per_year_of`:
    252 for daily bars, 98,280 for 1-minute bars); 252 when there is no interval to read
    (fewer than two bars, or an index that is not timestamps)."""
    index = prices.index
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return float(ind.TRADING_DAYS)
    return periods_per_year_of(index)


def _on_close(
    indicator: Callable[[pd.Series, int], pd.Series], n: int
) -> Callable[[pd.DataFrame], pd.Series]:
    """``prices -> indicator(prices["close"], n)`` with ``n`` bound now (each loop pass its own)."""
    return lambda p: indicator(p["close"], n)


def _annualized_vol(n: int) -> Callable[[pd.DataFrame], pd.Series]:
    """``prices -> realized_vol(close, n)`` annualized by the frame's bars a year."""
    return lambda p: ind.realized_vol(p["close"], n, bars_a_year(p))


def _register_all() -> None:
    # Returns.
    for n in (1, 5, 21):
        _add(
            f"ret_{n}",
            _C,
            n,
            f"Simple return over {n} bar(s): close / close {n} bars ago - 1",
            _on_close(ind.simple_return, n),
        )
    for n in (1, 5, 21):
        _add(
            f"logret_{n}",
            _C,
            n,
            f"Log return over {n} bar(s): ln(close / close {n} bars ago)",
            _on_close(ind.log_return, n),
        )

    # Momentum / rate of change (ret_21 already covers 21 bars).
    for n in (10, 63, 126):
        _add(
            f"roc_{n}",
            _C,
            n,
            f"Rate of change over {n} bars: close / close {n} bars ago - 1",
            _on_close(ind.simple_return, n),
        )
    _add(
        "mom_252_21",
        _C,
        252,
        "12-1 momentum: return from 252 to 21 bars ago (skips the last month)",
        lambda p: p["close"].shift(21) / p["close"].shift(252) - 1.0,
    )
    _add(
        "efficiency_10",
        _C,
        10,
        "Kaufman efficiency ratio over 10 bars: |net move| / sum of |bar moves| (0..1)",
        lambda p: ind.efficiency_ratio(p["close"], 10),
    )

    # Volatility and distribution shape.
    for n in (21, 63):
        _add(
            f"vol_{n}",
            _C,
            n,
            f"Annualized std (ddof=1) of 1-bar log returns over {n} bars (bars a year "
            "from the data's frequency)",
            _annualized_vol(n),
        )
    _add(
        "vol_ratio_21_63",
        _C,
        63,
        "Short over long realized volatility, vol_21 / vol_63",
        lambda p: ind.realized_vol(p["close"], 21) / ind.realized_vol(p["close"], 63),
    )
    _add(
        "skew_63",
        _C,
        63,
        "Rolling sample skewness of daily log returns over 63 bars",
        lambda p: ind.log_return(p["close"], 1).rolling(63).skew(),
    )
    _add(
        "kurt_63",
        _C,
        63,
        "Rolling sample excess kurtosis of daily log returns over 63 bars",
        lambda p: ind.log_return(p["close"], 1).rolling(63).kurt(),
    )
    _add(
        "autocorr_63",
        _C,
        64,
        "Rolling lag-1 autocorrelation of daily log returns over 63 bars",
        lambda p: ind.return_autocorr(p["close"], 63),
    )
    _add(
        "atr_14",
        _HLC,
        14,
        "Average True Range, Wilder 14 (price units)",
        lambda p: ind.atr(p["high"], p["low"], p["close"], 14),
    )
    _add(
        "natr_14",
        _HLC,
        14,
        "Normalized ATR: atr_14 / close",
        lambda p: ind.atr(p["high"], p["low"], p["close"], 14) / p["close"],
    )
    _add(
        "parkinson_vol_21",
        _HL,
        20,
        "Parkinson high-low range volatility over 21 bars, annualized",
        lambda p: ind.parkinson_vol(p["high"], p["low"], 21, bars_a_year(p)),
    )
    _add(
        "gk_vol_21",
        _OHLC,
        20,
        "Garman-Klass OHLC volatility over 21 bars, annualized",
        lambda p: ind.garman_klass_vol(
            p["open"], p["high"], p["low"], p["close"], 21, bars_a_year(p)
        ),
    )
    _add(
        "hl_range",
        ("high", "low", "close"),
        0,
        "Bar range relative to price: (high - low) / close",
        lambda p: (p["high"] - p["low"]) / p["close"],
    )

    # Oscillators.
    _add(
        "rsi_14",
        _C,
        14,
        "Relative Strength Index, Wilder 14 (0..100)",
        lambda p: ind.rsi(p["close"], 14),
    )
    _add(
        "macd_line",
        _C,
        25,
        "MACD line: EMA12 - EMA26 of close (price units)",
        lambda p: ind.macd(p["close"])[0],
    )
    _add(
        "macd_signal",
        _C,
        33,
        "MACD signal: EMA9 of the MACD line (price units)",
        lambda p: ind.macd(p["close"])[1],
    )
    _add(
        "macd_hist",
        _C,
        33,
        "MACD histogram: MACD line - signal (price units)",
        lambda p: ind.macd(p["close"])[2],
    )
    _add(
        "ppo_12_26",
        _C,
        25,
        "Percentage price oscillator: 100 * (EMA12 / EMA26 - 1)",
        lambda p: 100.0 * (ind.ema(p["close"], 12) / ind.ema(p["close"], 26, min_periods=26) - 1.0),
    )
    _add(
        "stoch_k_14",
        _HLC,
        13,
        "Stochastic %K 14: close within the 14-bar high-low range (0..100)",
        lambda p: ind.stochastic_k(p["high"], p["low"], p["close"], 14),
    )
    _add(
        "stoch_d_14",
        _HLC,
        15,
        "Stochastic %D: 3-bar mean of %K 14 (0..100)",
        lambda p: ind.stochastic_k(p["high"], p["low"], p["close"], 14).rolling(3).mean(),
    )
    _add(
        "close_location",
        _HLC,
        0,
        "Where the close sits in the bar: (close - low) / (high - low) (0..1)",
        lambda p: (p["close"] - p["low"]) / (p["high"] - p["low"]),
    )
    _add(
        "range_pos_20",
        _C,
        19,
        "Close within its 20-bar min-max range of closes (0..1)",
        lambda p: ind.range_position(p["close"], 20),
    )

    # Bands, z-scores and moving-average distance.
    _add(
        "bb_pctb_20",
        _C,
        19,
        "Bollinger %B (20, 2): (close - lower) / (upper - lower)",
        lambda p: ind.bollinger(p["close"], 20, 2.0)[0],
    )
    _add(
        "bb_width_20",
        _C,
        19,
        "Bollinger bandwidth (20, 2): (upper - lower) / middle",
        lambda p: ind.bollinger(p["close"], 20, 2.0)[1],
    )
    for n in (20, 60):
        _add(
            f"zscore_{n}",
            _C,
            n - 1,
            f"Z-score of close vs its {n}-bar mean and std",
            _on_close(ind.zscore, n),
        )
    for n in (20, 50, 200):
        _add(
            f"sma_dist_{n}",
            _C,
            n - 1,
            f"Distance from the {n}-bar simple moving average: close / SMA{n} - 1",
            _on_close(ind.sma_distance, n),
        )
    _add(
        "drawdown",
        _C,
        0,
        "Drawdown from the running (expanding) high: close / max(close so far) - 1",
        lambda p: ind.drawdown(p["close"]),
    )
    _add(
        "drawdown_252",
        _C,
        251,
        "Distance from the 252-bar high: close / max(last 252 closes) - 1",
        lambda p: ind.drawdown(p["close"], 252),
    )

    # Volume and gaps.
    _add(
        "volume_z_20",
        ("volume",),
        19,
        "Z-score of volume vs its 20-bar mean and std",
        lambda p: ind.zscore(p["volume"], 20),
    )
    _add(
        "rel_volume_20",
        ("volume",),
        19,
        "Volume relative to its 20-bar mean: volume / SMA20(volume)",
        lambda p: p["volume"] / p["volume"].rolling(20).mean(),
    )
    _add(
        "gap",
        _OC,
        1,
        "Overnight gap: open / previous close - 1",
        lambda p: p["open"] / p["close"].shift(1) - 1.0,
    )
    _add(
        "intraday_ret",
        _OC,
        0,
        "Open-to-close return of the bar: close / open - 1",
        lambda p: p["close"] / p["open"] - 1.0,
    )


_register_all()
