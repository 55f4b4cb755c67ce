"""The built-in feature catalogue: registers every standard indicator at import time.

Lookbacks are exact: on clean data a feature's first finite value is at row ``lookback``
(tests check this for every entry).

Each feature is a *kernel* on :class:`core.features._bars.Bars`, the intermediates of one
price frame computed once (the 1-bar log return feeds eight features, the EMAs of the MACD
four, the 20-bar mean of the close five, ...); :func:`core.features.compute_features`
hands every kernel the same ``Bars``. A feature's ``func`` runs its kernel alone on a
frame. The kernels reproduce the indicators of :mod:`core.features.indicators` step by
step (same operations in the same order, the same pandas window routines), so the values
are exactly those of the indicator formulas (tests/core/test_features_fast.py compares
every feature bit for bit with the per-feature implementation they replaced).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.data.frequency import periods_per_year_of
from core.features import indicators as ind
from core.features._bars import DERIVED, Array, Bars
from core.features._feature import Feature, register

_C = ("close",)
_HL = ("high", "low")
_HLC = ("high", "low", "close")
_OC = ("open", "close")
_OHLC = ("open", "high", "low", "close")
_LN2 = float(np.log(2.0))
_SQRT_252 = float(np.sqrt(ind.TRADING_DAYS))  # realized_vol's default annualization

Kernel = Callable[[Bars], Array]


def _as_func(kernel: Kernel) -> Callable[[pd.DataFrame], pd.Series]:
    """``prices -> Series`` running ``kernel`` on its own :class:`Bars` of ``prices``."""

    def func(prices: pd.DataFrame) -> pd.Series:
        with np.errstate(all="ignore"):
            return pd.Series(kernel(Bars(prices)), index=prices.index)

    return func


def _add(
    name: str, inputs: tuple[str, ...], lookback: int, description: str, kernel: Kernel
) -> None:
    register(
        Feature(
            name=name,
            inputs=inputs,
            lookback=lookback,
            description=description,
            func=_as_func(kernel),
            kernel=kernel,
        )
    )


def bars_a_year(prices: pd.DataFrame) -> float:
    """Bars a year of the frame's timestamps (:func:`core.data.frequency.periods_per_year_of`:
    252 for daily bars, 98,280 for 1-minute bars); 252 when there is no interval to read
    (fewer than two bars, or an index that is not timestamps)."""
    index = prices.index
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return float(ind.TRADING_DAYS)
    return periods_per_year_of(index)


def _sqrt_year(b: Bars) -> float:
    """``np.sqrt(bars_a_year(prices))``, read once per frame."""
    return float(b.once("sqrt_bars_a_year", lambda: np.sqrt(_year(b))))


def _year(b: Bars) -> float:
    return float(b.once("bars_a_year", lambda: bars_a_year(b.prices)))


# --- shared intermediates (each computed once per frame, see Bars.get) -------------------


def _clip0(x: Array) -> Array:
    """``Series.clip(lower=0.0)``: negatives to 0; NaN and -0.0 kept."""
    return np.where(x < 0.0, 0.0, x)


def _true_range(b: Bars) -> Array:
    prev, h, lo = b.shift("close", 1), b.get("high"), b.get("low")
    return np.maximum(np.maximum(h - lo, np.abs(h - prev)), np.abs(lo - prev))


def _wilder(b: Bars, name: str, window: int) -> Array:
    return np.asarray(ind.wilder_mean(b.series(name), window, first_valid=1).to_numpy())


def _stoch_k(b: Bars) -> Array:
    lowest = b.rolling("low", 14, "min")
    return 100.0 * (b.get("close") - lowest) / (b.rolling("high", 14, "max") - lowest)


DERIVED.update(
    {
        "tr": _true_range,
        "atr_14": lambda b: _wilder(b, "tr", 14),
        "gain": lambda b: _clip0(b.diff("close", 1)),
        "loss": lambda b: _clip0(-b.diff("close", 1)),
        "hl2": lambda b: b.get("log_hl") ** 2,
        "gk_term": lambda b: 0.5 * b.get("hl2") - (2.0 * _LN2 - 1.0) * b.get("log_co") ** 2,
        "ema_12": lambda b: b.ewm_mean("close", 12),
        "ema_26": lambda b: b.ewm_mean("close", 26, min_periods=26),
        "macd_line": lambda b: b.get("ema_12") - b.get("ema_26"),
        "macd_signal": lambda b: b.ewm_mean("macd_line", 9, min_periods=9),
        "stoch_k_14": _stoch_k,
        "bb_width_20": lambda b: 2.0 * 2.0 * b.rolling("close", 20, "std", ddof=0),
        "cummax_close": lambda b: np.asarray(b.series("close").cummax().to_numpy()),
    }
)


# --- kernels ---------------------------------------------------------------------------------


def _simple_return(n: int) -> Kernel:
    """``close / close.shift(n) - 1`` (:func:`indicators.simple_return`)."""
    return lambda b: b.get("close") / b.shift("close", n) - 1.0


def _log_return(n: int) -> Kernel:
    """``ln(close).diff(n)`` (:func:`indicators.log_return`)."""
    return lambda b: b.diff("log_close", n)


def _realized_vol(n: int) -> Kernel:
    """:func:`indicators.realized_vol` annualized by the frame's bars a year."""
    return lambda b: b.rolling("logret_1", n, "std") * _sqrt_year(b)


def _vol_ratio(b: Bars) -> Array:
    short = b.rolling("logret_1", 21, "std") * _SQRT_252
    return short / (b.rolling("logret_1", 63, "std") * _SQRT_252)


def _autocorr_63(b: Bars) -> Array:
    def make() -> Array:
        corr = b.series("logret_1").rolling(63).corr(b.series("logret_1_prev"))
        return np.asarray(corr.to_numpy(dtype="float64"))

    return b.once(("autocorr", 63), make)  # type: ignore[no-any-return]


def _efficiency_10(b: Bars) -> Array:
    net = np.abs(b.get("close") - b.shift("close", 10))
    return net / b.rolling("abs_move", 10, "sum")


def _parkinson_21(b: Bars) -> Array:
    return np.sqrt(b.rolling("hl2", 21, "mean") / (4.0 * _LN2) * _year(b))


def _gk_21(b: Bars) -> Array:
    return np.sqrt(_clip0(b.rolling("gk_term", 21, "mean")) * _year(b))


def _rsi_14(b: Bars) -> Array:
    gain, loss = _wilder(b, "gain", 14), _wilder(b, "loss", 14)
    total = gain + loss
    out = np.where(total != 0.0, 100.0 * gain / total, 50.0)
    out[np.isnan(total)] = np.nan
    return out


def _bb_pctb_20(b: Bars) -> Array:
    width = b.get("bb_width_20")
    lower = b.rolling("close", 20, "mean") - 0.5 * width
    return (b.get("close") - lower) / width


def _zscore(name: str, n: int) -> Kernel:
    """``(x - rolling mean) / rolling std (ddof=1)`` (:func:`indicators.zscore`)."""
    return lambda b: (b.get(name) - b.rolling(name, n, "mean")) / b.rolling(name, n, "std")


def _sma_distance(n: int) -> Kernel:
    return lambda b: b.get("close") / b.rolling("close", n, "mean") - 1.0


def _range_pos_20(b: Bars) -> Array:
    lowest = b.rolling("close", 20, "min")
    return (b.get("close") - lowest) / (b.rolling("close", 20, "max") - lowest)


def _register_all() -> None:
    # Returns.
    for n in (1, 5, 21):
        _add(
            f"ret_{n}",
            _C,
            n,
            f"Simple return over {n} bar(s): close / close {n} bars ago - 1",
            _simple_return(n),
        )
    for n in (1, 5, 21):
        _add(
            f"logret_{n}",
            _C,
            n,
            f"Log return over {n} bar(s): ln(close / close {n} bars ago)",
            _log_return(n),
        )

    # Momentum / rate of change (ret_21 already covers 21 bars).
    for n in (10, 63, 126):
        _add(
            f"roc_{n}",
            _C,
            n,
            f"Rate of change over {n} bars: close / close {n} bars ago - 1",
            _simple_return(n),
        )
    _add(
        "mom_252_21",
        _C,
        252,
        "12-1 momentum: return from 252 to 21 bars ago (skips the last month)",
        lambda b: b.shift("close", 21) / b.shift("close", 252) - 1.0,
    )
    _add(
        "efficiency_10",
        _C,
        10,
        "Kaufman efficiency ratio over 10 bars: |net move| / sum of |bar moves| (0..1)",
        _efficiency_10,
    )

    # Volatility and distribution shape.
    for n in (21, 63):
        _add(
            f"vol_{n}",
            _C,
            n,
            f"Annualized std (ddof=1) of 1-bar log returns over {n} bars (bars a year "
            "from the data's frequency)",
            _realized_vol(n),
        )
    _add(
        "vol_ratio_21_63",
        _C,
        63,
        "Short over long realized volatility, vol_21 / vol_63",
        _vol_ratio,
    )
    _add(
        "skew_63",
        _C,
        63,
        "Rolling sample skewness of daily log returns over 63 bars",
        lambda b: b.rolling("logret_1", 63, "skew"),
    )
    _add(
        "kurt_63",
        _C,
        63,
        "Rolling sample excess kurtosis of daily log returns over 63 bars",
        lambda b: b.rolling("logret_1", 63, "kurt"),
    )
    _add(
        "autocorr_63",
        _C,
        64,
        "Rolling lag-1 autocorrelation of daily log returns over 63 bars",
        _autocorr_63,
    )
    _add(
        "atr_14",
        _HLC,
        14,
        "Average True Range, Wilder 14 (price units)",
        lambda b: b.get("atr_14"),
    )
    _add(
        "natr_14",
        _HLC,
        14,
        "Normalized ATR: atr_14 / close",
        lambda b: b.get("atr_14") / b.get("close"),
    )
    _add(
        "parkinson_vol_21",
        _HL,
        20,
        "Parkinson high-low range volatility over 21 bars, annualized",
        _parkinson_21,
    )
    _add(
        "gk_vol_21",
        _OHLC,
        20,
        "Garman-Klass OHLC volatility over 21 bars, annualized",
        _gk_21,
    )
    _add(
        "hl_range",
        ("high", "low", "close"),
        0,
        "Bar range relative to price: (high - low) / close",
        lambda b: (b.get("high") - b.get("low")) / b.get("close"),
    )

    # Oscillators.
    _add(
        "rsi_14",
        _C,
        14,
        "Relative Strength Index, Wilder 14 (0..100)",
        _rsi_14,
    )
    _add(
        "macd_line",
        _C,
        25,
        "MACD line: EMA12 - EMA26 of close (price units)",
        lambda b: b.get("macd_line"),
    )
    _add(
        "macd_signal",
        _C,
        33,
        "MACD signal: EMA9 of the MACD line (price units)",
        lambda b: b.get("macd_signal"),
    )
    _add(
        "macd_hist",
        _C,
        33,
        "MACD histogram: MACD line - signal (price units)",
        lambda b: b.get("macd_line") - b.get("macd_signal"),
    )
    _add(
        "ppo_12_26",
        _C,
        25,
        "Percentage price oscillator: 100 * (EMA12 / EMA26 - 1)",
        lambda b: 100.0 * (b.get("ema_12") / b.get("ema_26") - 1.0),
    )
    _add(
        "stoch_k_14",
        _HLC,
        13,
        "Stochastic %K 14: close within the 14-bar high-low range (0..100)",
        lambda b: b.get("stoch_k_14"),
    )
    _add(
        "stoch_d_14",
        _HLC,
        15,
        "Stochastic %D: 3-bar mean of %K 14 (0..100)",
        lambda b: b.rolling("stoch_k_14", 3, "mean"),
    )
    _add(
        "close_location",
        _HLC,
        0,
        "Where the close sits in the bar: (close - low) / (high - low) (0..1)",
        lambda b: (b.get("close") - b.get("low")) / (b.get("high") - b.get("low")),
    )
    _add(
        "range_pos_20",
        _C,
        19,
        "Close within its 20-bar min-max range of closes (0..1)",
        _range_pos_20,
    )

    # Bands, z-scores and moving-average distance.
    _add(
        "bb_pctb_20",
        _C,
        19,
        "Bollinger %B (20, 2): (close - lower) / (upper - lower)",
        _bb_pctb_20,
    )
    _add(
        "bb_width_20",
        _C,
        19,
        "Bollinger bandwidth (20, 2): (upper - lower) / middle",
        lambda b: b.get("bb_width_20") / b.rolling("close", 20, "mean"),
    )
    for n in (20, 60):
        _add(
            f"zscore_{n}",
            _C,
            n - 1,
            f"Z-score of close vs its {n}-bar mean and std",
            _zscore("close", n),
        )
    for n in (20, 50, 200):
        _add(
            f"sma_dist_{n}",
            _C,
            n - 1,
            f"Distance from the {n}-bar simple moving average: close / SMA{n} - 1",
            _sma_distance(n),
        )
    _add(
        "drawdown",
        _C,
        0,
        "Drawdown from the running (expanding) high: close / max(close so far) - 1",
        lambda b: b.get("close") / b.get("cummax_close") - 1.0,
    )
    _add(
        "drawdown_252",
        _C,
        251,
        "Distance from the 252-bar high: close / max(last 252 closes) - 1",
        lambda b: b.get("close") / b.rolling("close", 252, "max") - 1.0,
    )

    # Volume and gaps.
    _add(
        "volume_z_20",
        ("volume",),
        19,
        "Z-score of volume vs its 20-bar mean and std",
        _zscore("volume", 20),
    )
    _add(
        "rel_volume_20",
        ("volume",),
        19,
        "Volume relative to its 20-bar mean: volume / SMA20(volume)",
        lambda b: b.get("volume") / b.rolling("volume", 20, "mean"),
    )
    _add(
        "gap",
        _OC,
        1,
        "Overnight gap: open / previous close - 1",
        lambda b: b.get("open") / b.shift("close", 1) - 1.0,
    )
    _add(
        "intraday_ret",
        _OC,
        0,
        "Open-to-close return of the bar: close / open - 1",
        lambda b: b.get("close") / b.get("open") - 1.0,
    )


_register_all()
