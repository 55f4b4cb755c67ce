"""The intermediates one price frame's features share, each computed once.

:func:`core.features.compute_features` hands every built-in feature kernel the same
:class:`Bars`: the 1-bar log return, the 20-bar mean of the close, the EMAs of the MACD,
the ATR, the bars a year, ... are computed on first use and reused by every feature that
needs them. Elementwise steps run on float64 arrays; windows, EMAs and running maxima run
through the same pandas routines as :mod:`core.features.indicators`, so each kernel
returns exactly the values of the indicator it stands for.

>>> import pandas as pd
>>> bars = Bars(pd.DataFrame({"close": [1.0, 2.0, 4.0]}))
>>> bars.shift("close", 1).tolist(), bars.diff("close", 1).tolist()
([nan, 1.0, 2.0], [nan, 1.0, 2.0])
>>> bars.rolling("close", 2, "mean") is bars.rolling("close", 2, "mean")
True
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

Array = npt.NDArray[np.float64]
"""float64, one value per bar of the frame."""


class Bars:
    """One price frame's columns as float64 arrays and their memoized intermediates.

    Parameters
    ----------
    prices : DataFrame
        The price frame (sorted index); its columns are read on first use.

    Notes
    -----
    The arrays handed out are shared between features: kernels must not modify them
    (the columns are read-only views of the frame).
    """

    def __init__(self, prices: pd.DataFrame) -> None:
        self.prices = prices
        self.n = len(prices)
        self._memo: dict[Hashable, Any] = {}

    def once(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """``make()`` the first time ``key`` is asked for, the same object afterwards."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
            return value

    def get(self, name: str) -> Array:
        """A price column (``"close"``, ...) or a derived series registered in :data:`DERIVED`."""
        try:
            return self._memo[name]  # type: ignore[no-any-return]
        except KeyError:
            pass
        if name in DERIVED:
            value = DERIVED[name](self)
        else:
            value = self.prices[name].to_numpy(dtype="float64")
        self._memo[name] = value
        return value

    def shift(self, name: str, periods: int) -> Array:
        """``Series.shift(periods)`` of :meth:`get` ``(name)``: NaN on the first bars."""
        return self.once(("shift", name, periods), lambda: _shift(self.get(name), periods))  # type: ignore[no-any-return]

    def diff(self, name: str, periods: int) -> Array:
        """``Series.diff(periods)``: ``x[t] - x[t - periods]``, NaN on the first bars."""

        def make() -> Array:
            x = self.get(name)
            out = np.full(self.n, np.nan)
            if periods < self.n:
                out[periods:] = x[periods:] - x[: self.n - periods]
            return out

        return self.once(("diff", name, periods), make)  # type: ignore[no-any-return]

    def series(self, name: str) -> pd.Series:
        """:meth:`get` ``(name)`` as a Series on a RangeIndex (no copy), for pandas windows."""
        return self.once(("series", name), lambda: pd.Series(self.get(name), copy=False))

    def rolling(self, name: str, window: int, stat: str, **kwargs: Any) -> Array:
        """``Series.rolling(window).<stat>(**kwargs)`` of :meth:`get` ``(name)``."""
        key = ("rolling", name, window, stat, tuple(sorted(kwargs.items())))

        def make() -> Array:
            roll = self.series(name).rolling(window)
            return np.asarray(getattr(roll, stat)(**kwargs).to_numpy(dtype="float64"))

        return self.once(key, make)  # type: ignore[no-any-return]

    def ewm_mean(self, name: str, span: int, min_periods: int = 0) -> Array:
        """``ewm(span=span, adjust=False, min_periods=...).mean()`` (:func:`indicators.ema`)."""

        def make() -> Array:
            ewm = self.series(name).ewm(span=span, adjust=False, min_periods=min_periods)
            return np.asarray(ewm.mean().to_numpy(dtype="float64"))

        return self.once(("ewm", name, span, min_periods), make)  # type: ignore[no-any-return]


def _shift(x: Array, periods: int) -> Array:
    out = np.full(len(x), np.nan)
    if periods < len(x):
        out[periods:] = x[: len(x) - periods]
    return out


def _log_close(b: Bars) -> Array:
    return np.asarray(np.log(b.get("close")))


def _log_hl(b: Bars) -> Array:
    return np.asarray(np.log(b.get("high") / b.get("low")))


def _log_co(b: Bars) -> Array:
    return np.asarray(np.log(b.get("close") / b.get("open")))


def _abs_move(b: Bars) -> Array:
    return np.abs(b.diff("close", 1))


DERIVED: dict[str, Callable[[Bars], Array]] = {
    "log_close": _log_close,
    "logret_1": lambda b: b.diff("log_close", 1),
    "logret_1_prev": lambda b: b.shift("logret_1", 1),
    "abs_move": _abs_move,
    "log_hl": _log_hl,
    "log_co": _log_co,
}
"""Derived series by name; features add theirs (e.g. ``"tr"``, ``"stoch_k_14"``)."""


__all__ = ["DERIVED", "Array", "Bars"]
