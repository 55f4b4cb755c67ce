"""The registered features at the latest bar, bar by bar, without recomputing history.

:class:`OnlineFeatures` absorbs one bar at a time and gives every catalogue feature of
:mod:`core.features` *at that bar* from rolling state only: a buffer of the last
``BUFFER`` bars (the longest lookback is 252 bars) for the windowed features, and
exponential recursions carried from bar to bar for those with infinite memory (MACD and
PPO EMAs, Wilder's RSI and ATR, the expanding drawdown). Each value equals what
:func:`core.features.compute_features` gives at that row on the whole history up to the
bar, to floating-point rounding (the recursions repeat pandas' float operations; rolling
moments are computed on the window rather than with pandas' running sums). A feature
registered outside the catalogue is computed with :func:`compute_features` on the last
``lookback + 1`` bars (exact for a feature with a finite lookback).

Nothing here sees a bar before it is absorbed: the value at bar t uses bars ``<= t``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.features import compute_features, get_feature
from core.features.indicators import TRADING_DAYS

BUFFER = 260
"""Bars kept: the longest catalogue window (``mom_252_21`` reads the close 252 bars ago)."""

_LN2 = math.log(2.0)
_COLUMNS = ("open", "high", "low", "close", "volume")


def _div(a: float, b: float) -> float:
    """``a / b``, NaN where pandas' result would be infinite or undefined."""
    if b == 0.0 or not (math.isfinite(a) and math.isfinite(b)):
        return math.nan
    out = a / b
    return out if math.isfinite(out) else math.nan


def _log(x: float) -> float:
    return math.log(x) if x > 0 else math.nan


class _EMA:
    """pandas' ``ewm(alpha, adjust=False, min_periods)`` mean, one value at a time
    (the same operations as pandas' ``ewm`` kernel: ``(old * w + a * x) / (old + a)``)."""

    __slots__ = ("alpha", "count", "min_periods", "old", "value")

    def __init__(self, alpha: float, min_periods: int = 0) -> None:
        self.alpha = alpha
        self.old = 1.0 - alpha
        self.min_periods = max(min_periods, 1)
        self.value = math.nan
        self.count = 0

    def update(self, x: float) -> float:
        if math.isfinite(x):
            self.count += 1
            if math.isnan(self.value):
                self.value = x
            elif self.value != x:
                self.value = (self.old * self.value + self.alpha * x) / (self.old + self.alpha)
        return self.value if self.count >= self.min_periods else math.nan


class _Wilder:
    """:func:`core.features.indicators.wilder_mean`: the mean of the first ``window``
    valid values, then the ``alpha = 1 / window`` recursion."""

    __slots__ = ("ema", "seed", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.seed: list[float] = []
        self.ema = _EMA(1.0 / window)

    def update(self, x: float) -> float:
        if len(self.seed) < self.window:
            if math.isfinite(x):
                self.seed.append(x)
            if len(self.seed) < self.window:
                return math.nan
            return self.ema.update(float(np.mean(self.seed)))
        return self.ema.update(x)


def _std(x: np.ndarray, ddof: int = 1) -> float:
    return float(np.std(x, ddof=ddof)) if x.size > ddof else math.nan


def _skew(x: np.ndarray) -> float:
    """Bias-corrected sample skewness (pandas' rolling ``skew``)."""
    n = x.size
    d = x - x.mean()
    m2, m3 = float(np.mean(d * d)), float(np.mean(d**3))
    if m2 <= 1e-14 * max(float(np.mean(x * x)), 1e-300):
        return math.nan
    return float(math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5)


def _kurt(x: np.ndarray) -> float:
    """Bias-corrected sample excess kurtosis (pandas' rolling ``kurt``)."""
    n = x.size
    d = x - x.mean()
    m2, m4 = float(np.mean(d * d)), float(np.mean(d**4))
    if m2 <= 1e-14 * max(float(np.mean(x * x)), 1e-300):
        return math.nan
    g2 = m4 / (m2 * m2) - 3.0
    return ((n + 1) * g2 + 6.0) * (n - 1) / ((n - 2) * (n - 3))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    da, db = a - a.mean(), b - b.mean()
    den = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / den if den > 0 else math.nan


class OnlineFeatures:
    """Causal features at the latest bar, updated one bar at a time.

    Parameters
    ----------
    names : sequence of str
        Feature names in output order (any registered feature).
    periods_per_year : float
        Annualization of the volatility features: the bars a year of the data
        (:func:`core.data.frequency.periods_per_year_of`, as the catalogue reads it).

    Examples
    --------
    >>> from core.data.synthetic import SyntheticSpec, generate
    >>> prices = generate(SyntheticSpec(bars=300, seed=1))[0]
    >>> online = OnlineFeatures(["rsi_14", "vol_21"])
    >>> for row in prices.itertuples():
    ...     values = online.update(row.open, row.high, row.low, row.close, row.volume)
    >>> batch = compute_features(prices, ["rsi_14", "vol_21"]).iloc[-1].to_numpy()
    >>> bool(np.allclose(values, batch, rtol=1e-9))
    True
    """

    def __init__(self, names: Sequence[str], *, periods_per_year: float = TRADING_DAYS) -> None:
        self.names = tuple(names)
        self.ppy = float(periods_per_year)
        for name in self.names:
            get_feature(name)  # unknown names fail now, with the catalogue's message
        self.reset()
        self._known: dict[str, Callable[[], float]] = self._catalogue()
        self._custom = [n for n in self.names if n not in self._known]

    def reset(self) -> None:
        """Forget every bar."""
        self._buf = np.full((2 * BUFFER, 5), np.nan)
        self._end = 0
        self.n = 0
        self._ema12 = _EMA(2.0 / 13.0)
        self._ema26 = _EMA(2.0 / 27.0, min_periods=26)
        self._ema26_raw = _EMA(2.0 / 27.0)
        self._signal = _EMA(2.0 / 10.0, min_periods=9)
        self._gain, self._loss = _Wilder(14), _Wilder(14)
        self._atr = _Wilder(14)
        self._peak = -math.inf
        self._stoch: deque[float] = deque(maxlen=3)
        self._state: dict[str, float] = {}

    # ----- state ---------------------------------------------------------------------
    def _col(self, j: int, k: int) -> np.ndarray:
        """The last ``k`` values of column ``j`` (fewer at the start)."""
        return self._buf[max(self._end - k, 0) : self._end, j]

    def _back(self, j: int, k: int) -> float:
        """Column ``j`` ``k`` bars before the latest (NaN before the first bar)."""
        i = self._end - 1 - k
        return float(self._buf[i, j]) if k < self.n and i >= 0 else math.nan

    def absorb(self, open_: float, high: float, low: float, close: float, volume: float) -> None:
        """Take one bar into the state without computing the features (warm-up)."""
        if self._end == self._buf.shape[0]:
            self._buf[:BUFFER] = self._buf[BUFFER:]
            self._end = BUFFER
        prev = self._back(3, 0)
        self._buf[self._end] = (open_, high, low, close, volume)
        self._end += 1
        self.n += 1
        st = self._state
        e12 = self._ema12.update(close)
        e26 = self._ema26.update(close)
        self._ema26_raw.update(close)
        line = e12 - e26 if math.isfinite(e26) else math.nan
        sig = self._signal.update(line)
        st["macd_line"], st["macd_signal"], st["macd_hist"] = line, sig, line - sig
        st["ppo_12_26"] = 100.0 * (_div(e12, e26) - 1.0)
        delta = close - prev
        gain = self._gain.update(max(delta, 0.0) if math.isfinite(delta) else math.nan)
        loss = self._loss.update(max(-delta, 0.0) if math.isfinite(delta) else math.nan)
        total = gain + loss
        st["rsi_14"] = (
            math.nan if math.isnan(total) else (50.0 if total == 0.0 else 100.0 * gain / total)
        )
        tr = max(high - low, abs(high - prev), abs(low - prev)) if math.isfinite(prev) else math.nan
        atr = self._atr.update(tr)
        st["atr_14"], st["natr_14"] = atr, _div(atr, close)
        if math.isfinite(close):
            self._peak = max(self._peak, close)
        st["drawdown"] = _div(close, self._peak) - 1.0
        lo14, hi14 = self._col(2, 14), self._col(1, 14)
        if self.n >= 14:
            lowest = float(lo14.min())
            k = 100.0 * _div(close - lowest, float(hi14.max()) - lowest)
        else:
            k = math.nan
        self._stoch.append(k)
        st["stoch_k_14"] = k
        st["stoch_d_14"] = float(np.mean(self._stoch)) if len(self._stoch) == 3 else math.nan

    def update(
        self, open_: float, high: float, low: float, close: float, volume: float
    ) -> np.ndarray:
        """Absorb one bar and return the features at it, in :attr:`names` order."""
        self.absorb(open_, high, low, close, volume)
        return self.values()

    def values(self) -> np.ndarray:
        """The features at the latest absorbed bar (NaN where a window is not full)."""
        out = np.empty(len(self.names))
        custom = self._custom_values() if self._custom else {}
        for i, name in enumerate(self.names):
            fn = self._known.get(name)
            v = fn() if fn is not None else custom[name]
            out[i] = v if math.isfinite(v) else math.nan
        return out

    def _custom_values(self) -> dict[str, float]:
        lookback = max(get_feature(n).lookback for n in self._custom)
        rows = self._buf[max(self._end - lookback - 1, 0) : self._end]
        frame = pd.DataFrame(rows, columns=list(_COLUMNS), index=pd.RangeIndex(len(rows)))
        frame = frame.dropna(axis=1, how="all")
        values = compute_features(frame, self._custom).iloc[-1]
        return {k: float(v) for k, v in values.items()}

    # ----- the catalogue ---------------------------------------------------------------
    def _catalogue(self) -> dict[str, Callable[[], float]]:
        c = 3  # column of the close
        back, col = self._back, self._col

        def ret(k: int) -> Callable[[], float]:
            return lambda: _div(back(c, 0), back(c, k)) - 1.0

        def logret(k: int) -> Callable[[], float]:
            return lambda: _log(back(c, 0)) - _log(back(c, k)) if self.n > k else math.nan

        cache: dict[str, Any] = {"n": -1, "r": np.empty(0)}

        def logrets(k: int) -> np.ndarray:
            """The last ``k`` (<= 64) one-bar log returns (empty unless all exist); the
            64 latest are computed once per bar and sliced (the same values)."""
            if self.n <= k:
                return np.empty(0)
            if cache["n"] != self.n:
                cache["n"], cache["r"] = self.n, np.diff(np.log(col(c, 65)))
            r: np.ndarray = cache["r"]
            return r[r.size - k :]

        def vol(k: int) -> float:
            r = logrets(k)
            return _std(r) * math.sqrt(self.ppy) if r.size == k else math.nan

        def window(j: int, k: int) -> np.ndarray:
            return col(j, k) if self.n >= k else np.empty(0)

        def zscore(j: int, k: int) -> float:
            x = window(j, k)
            return _div(float(x[-1] - x.mean()), _std(x)) if x.size else math.nan

        def sma_dist(k: int) -> float:
            x = window(c, k)
            return _div(float(x[-1]), float(x.mean())) - 1.0 if x.size else math.nan

        def moment(fn: Callable[[np.ndarray], float]) -> float:
            r = logrets(63)
            return fn(r) if r.size == 63 else math.nan

        def autocorr() -> float:
            r = logrets(64)
            return _corr(r[1:], r[:-1]) if r.size == 64 else math.nan

        def efficiency() -> float:
            if self.n <= 10:
                return math.nan
            x = col(c, 11)
            return _div(abs(float(x[-1] - x[0])), float(np.abs(np.diff(x)).sum()))

        def parkinson() -> float:
            if self.n < 21:
                return math.nan
            hl2 = np.log(col(1, 21) / col(2, 21)) ** 2
            return math.sqrt(float(hl2.mean()) / (4.0 * _LN2) * self.ppy)

        def garman_klass() -> float:
            if self.n < 21:
                return math.nan
            o, h, lo, cl = col(0, 21), col(1, 21), col(2, 21), col(c, 21)
            term = 0.5 * np.log(h / lo) ** 2 - (2.0 * _LN2 - 1.0) * np.log(cl / o) ** 2
            return math.sqrt(max(float(term.mean()), 0.0) * self.ppy)

        def range_pos() -> float:
            x = window(c, 20)
            if not x.size:
                return math.nan
            lo = float(x.min())
            return _div(float(x[-1]) - lo, float(x.max()) - lo)

        def bollinger(which: int) -> float:
            x = window(c, 20)
            if not x.size:
                return math.nan
            mid, width = float(x.mean()), 4.0 * _std(x, ddof=0)
            if which == 0:
                return _div(float(x[-1]) - (mid - 0.5 * width), width)
            return _div(width, mid)

        def drawdown_252() -> float:
            x = window(c, 252)
            return _div(float(x[-1]), float(x.max())) - 1.0 if x.size else math.nan

        def rel_volume() -> float:
            x = window(4, 20)
            return _div(float(x[-1]), float(x.mean())) if x.size else math.nan

        def bar(fn: Callable[[float, float, float, float], float]) -> Callable[[], float]:
            return lambda: fn(back(0, 0), back(1, 0), back(2, 0), back(c, 0))

        table: dict[str, Callable[[], float]] = {}
        for k in (1, 5, 21):
            table[f"ret_{k}"] = ret(k)
            table[f"logret_{k}"] = logret(k)
        for k in (10, 63, 126):
            table[f"roc_{k}"] = ret(k)
        table["mom_252_21"] = lambda: _div(back(c, 21), back(c, 252)) - 1.0
        table["efficiency_10"] = efficiency
        table["vol_21"] = lambda: vol(21)
        table["vol_63"] = lambda: vol(63)
        table["vol_ratio_21_63"] = lambda: _div(vol(21), vol(63))
        table["skew_63"] = lambda: moment(_skew)
        table["kurt_63"] = lambda: moment(_kurt)
        table["autocorr_63"] = autocorr
        table["parkinson_vol_21"] = parkinson
        table["gk_vol_21"] = garman_klass
        table["hl_range"] = bar(lambda o, h, lo, cl: _div(h - lo, cl))
        table["close_location"] = bar(lambda o, h, lo, cl: _div(cl - lo, h - lo))
        table["range_pos_20"] = range_pos
        table["bb_pctb_20"] = lambda: bollinger(0)
        table["bb_width_20"] = lambda: bollinger(1)
        for k in (20, 60):
            table[f"zscore_{k}"] = lambda k=k: zscore(c, k)  # type: ignore[misc]
        for k in (20, 50, 200):
            table[f"sma_dist_{k}"] = lambda k=k: sma_dist(k)  # type: ignore[misc]
        table["drawdown_252"] = drawdown_252
        table["volume_z_20"] = lambda: zscore(4, 20)
        table["rel_volume_20"] = rel_volume
        table["gap"] = lambda: _div(back(0, 0), back(c, 1)) - 1.0
        table["intraday_ret"] = bar(lambda o, h, lo, cl: _div(cl, o) - 1.0)
        for name in (
            "macd_line",
            "macd_signal",
            "macd_hist",
            "ppo_12_26",
            "rsi_14",
            "atr_14",
            "natr_14",
            "drawdown",
            "stoch_k_14",
            "stoch_d_14",
        ):
            table[name] = lambda name=name: self._state.get(name, math.nan)  # type: ignore[misc]
        return table

    def latest(self) -> Mapping[str, float]:
        """The latest values by name."""
        return dict(zip(self.names, self.values().tolist(), strict=True))


__all__ = ["BUFFER", "OnlineFeatures"]
