"""O(1) / small-window online versions of the registered strategies.

Each kernel's :meth:`update` takes one bar and returns the target position the batch
strategy in :mod:`core.strategies.single` gives for that bar, using rolling state only
(running sums, ring buffers of at most ``window`` bars, exponential recursions). Moving
averages reproduce the batch cumulative-sum formula bit for bit; rolling standard
deviations and RSI agree to floating-point rounding.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Protocol

import numpy as np

from core.strategies import validate_params
from core.strategies.single import (
    DonchianParams,
    MACrossoverParams,
    MeanReversionParams,
    TSMomentumParams,
    VolTargetTrendParams,
)


class IncrementalStrategy(Protocol):
    """One bar in, the target position for that bar out."""

    def update(self, high: float, low: float, close: float) -> float:
        """Absorb a bar and return the position decided at its close."""
        ...


class _SMA:
    """Trailing mean as ``(csum[t+1] - csum[t+1-w]) / w`` (the batch formula)."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.csum = 0.0
        self.history: deque[float] = deque([0.0], maxlen=window + 1)

    def update(self, value: float) -> float:
        self.csum += value
        self.history.append(self.csum)
        if len(self.history) <= self.window:
            return math.nan
        return (self.csum - self.history[0]) / self.window


def _step_state(state: float, le: bool, lx: bool, se: bool, sx: bool) -> float:
    """One step of :func:`core.strategies._indicators.state_machine`."""
    if (state > 0 and lx) or (state < 0 and sx):
        state = 0.0
    if le and not se:
        state = 1.0
    elif se and not le:
        state = -1.0
    return state


class BuyAndHoldKernel:
    """Always fully long."""

    def update(self, high: float, low: float, close: float) -> float:
        return 1.0


class MACrossoverKernel:
    """Long while SMA(fast) > SMA(slow); short below when allowed."""

    def __init__(self, params: MACrossoverParams) -> None:
        self.fast, self.slow = _SMA(params.fast), _SMA(params.slow)
        self.allow_short = params.allow_short

    def update(self, high: float, low: float, close: float) -> float:
        f, s = self.fast.update(close), self.slow.update(close)
        pos = 1.0 if f > s else 0.0
        if self.allow_short and f < s:
            pos -= 1.0
        return pos


class TSMomentumKernel:
    """Sign of ``close[t] / close[t - lookback] - 1``."""

    def __init__(self, params: TSMomentumParams) -> None:
        self.lookback = params.lookback
        self.allow_short = params.allow_short
        self.closes: deque[float] = deque(maxlen=params.lookback + 1)

    def update(self, high: float, low: float, close: float) -> float:
        self.closes.append(close)
        if len(self.closes) <= self.lookback:
            return 0.0
        change = close / self.closes[0] - 1.0
        if not math.isfinite(change) or change == 0.0:
            return 0.0
        if change > 0:
            return 1.0
        return -1.0 if self.allow_short else 0.0


class MeanReversionKernel:
    """Fade z-score (rolling window) or RSI (Wilder recursion) extremes."""

    def __init__(self, params: MeanReversionParams) -> None:
        self.p = params
        self.window: deque[float] = deque(maxlen=params.window)
        self.alpha = 1.0 / params.window
        self.prev = math.nan
        self.gain = math.nan
        self.loss = math.nan
        self.n_delta = 0
        self.seed_up: list[float] = []
        self.seed_down: list[float] = []
        self.state = 0.0

    def _oscillator(self, close: float) -> float:
        if self.p.indicator == "zscore":
            self.window.append(close)
            if len(self.window) < self.p.window:
                return math.nan
            arr = np.fromiter(self.window, float, self.p.window)
            sd = float(arr.std(ddof=1))
            return 0.0 if sd == 0.0 else (close - float(arr.mean())) / sd
        delta = close - self.prev
        self.prev = close
        if not math.isfinite(delta):
            return math.nan
        up, down = max(delta, 0.0), max(-delta, 0.0)
        self.n_delta += 1
        if self.n_delta <= self.p.window:  # Wilder's seed: the mean of the first changes
            self.seed_up.append(up)
            self.seed_down.append(down)
            if self.n_delta < self.p.window:
                return math.nan
            self.gain = float(np.mean(self.seed_up))
            self.loss = float(np.mean(self.seed_down))
        else:
            self.gain = (1.0 - self.alpha) * self.gain + self.alpha * up
            self.loss = (1.0 - self.alpha) * self.loss + self.alpha * down
        total = self.gain + self.loss
        rsi = 50.0 if total == 0.0 else 100.0 * self.gain / total
        return rsi - 50.0

    def update(self, high: float, low: float, close: float) -> float:
        osc = self._oscillator(close)
        p = self.p
        self.state = _step_state(
            self.state,
            osc < -p.entry,
            osc >= -p.exit,
            p.allow_short and osc > p.entry,
            osc <= p.exit,
        )
        return self.state


class DonchianKernel:
    """Breakout of the prior ``window`` bars' channel; exit on the ``exit_window`` channel."""

    def __init__(self, params: DonchianParams) -> None:
        self.p = params
        n = max(params.window, params.exit_window)
        self.highs: deque[float] = deque(maxlen=n)
        self.lows: deque[float] = deque(maxlen=n)
        self.state = 0.0

    def _channel(self, values: deque[float], window: int, fn: Any) -> float:
        if len(values) < window:
            return math.nan
        return float(fn(list(values)[-window:]))

    def update(self, high: float, low: float, close: float) -> float:
        p = self.p
        upper = self._channel(self.highs, p.window, max)
        lower = self._channel(self.lows, p.window, min)
        exit_upper = self._channel(self.highs, p.exit_window, max)
        exit_lower = self._channel(self.lows, p.exit_window, min)
        self.highs.append(high)
        self.lows.append(low)
        self.state = _step_state(
            self.state,
            close > upper,
            close < exit_lower,
            p.allow_short and close < lower,
            close > exit_upper,
        )
        return self.state


class VolTargetTrendKernel:
    """Trend (close vs SMA) times ``min(target_vol / realized_vol, max_leverage)``."""

    def __init__(self, params: VolTargetTrendParams) -> None:
        self.p = params
        self.sma = _SMA(params.trend_window)
        self.log_returns: deque[float] = deque(maxlen=params.vol_window)
        self.prev_log = math.nan

    def update(self, high: float, low: float, close: float) -> float:
        p = self.p
        mean = self.sma.update(close)
        trend = 1.0 if close > mean else 0.0
        if p.allow_short and close < mean:
            trend -= 1.0
        log_close = math.log(close)
        self.log_returns.append(log_close - self.prev_log)
        self.prev_log = log_close
        if len(self.log_returns) < p.vol_window:
            return 0.0
        arr = np.fromiter(self.log_returns, float, p.vol_window)
        if not np.isfinite(arr).all():
            return 0.0
        vol = float(arr.std(ddof=1)) * math.sqrt(p.periods_per_year)
        scale = min(p.target_vol / vol, p.max_leverage) if vol > 0 else math.inf
        if not math.isfinite(scale):
            return 0.0
        return trend * scale


def make_kernel(strategy: str, params: dict[str, Any]) -> IncrementalStrategy:
    """The online kernel of a registered strategy with validated ``params``."""
    model = validate_params(strategy, params)
    if strategy == "buy_and_hold":
        return BuyAndHoldKernel()
    if isinstance(model, MACrossoverParams):
        return MACrossoverKernel(model)
    if isinstance(model, TSMomentumParams):
        return TSMomentumKernel(model)
    if isinstance(model, MeanReversionParams):
        return MeanReversionKernel(model)
    if isinstance(model, DonchianParams):
        return DonchianKernel(model)
    if isinstance(model, VolTargetTrendParams):
        return VolTargetTrendKernel(model)
    raise ValueError(f"no online kernel for strategy {strategy!r}")  # pragma: no cover
