"""The intermediates one price frame's features share, each computed once.

:func:`core.features.compute_features` hands every built-in feature kernel the same
:class:`Bars`: the 1-bar log return, the 20-bar mean of the close, the EMAs of the MACD,
the ATR, the bars a year, ... are computed on first use and reused by every feature that
needs them. Elementwise steps run on float64 arrays; windows, EMAs and running maxima run
through the same pandas routines as :mod:`core.features.indicators`, so each kernel
returns exactly the values of the indicator it stands for.

Fixed-window sums, means, standard deviations, minima, maxima, skews and kurtoses call
the Cython routines ``Series.rolling(n).<stat>()`` ends in (``pandas._libs.window``) on
the array, with the window bounds pandas computes, the inf-to-NaN step of its value
preparation and its ``zsqrt``: the same numbers without the ~0.1 ms of pandas machinery
per call that dominates on a few thousand bars. At import they are checked against the
public ``rolling`` API on a sample with NaN and inf; if they differ or are missing (a
pandas version that moved them), every window goes through the public API.

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
    columns : dict of str to array, optional
        Price columns already read as float64 arrays (the frame's values).

    Notes
    -----
    The arrays handed out are shared between features: kernels must not modify them
    (the columns are read-only views of the frame).
    """

    def __init__(self, prices: pd.DataFrame, columns: dict[str, Array] | None = None) -> None:
        self.prices = prices
        self.n = len(prices)
        self._memo: dict[Hashable, Any] = {}
        self._memo.update(columns or {})

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
            if _DIRECT and stat in _ROUTINES and set(kwargs) <= {"ddof"} and window > 0:
                bounds = self.once(("bounds", window), lambda: _fixed_bounds(self.n, window))
                return _direct(self.get(name), window, stat, bounds, **kwargs)
            return _public(self.get(name), window, stat, **kwargs)

        return self.once(key, make)  # type: ignore[no-any-return]

    def ewm_mean(self, name: str, span: int, min_periods: int = 0) -> Array:
        """``ewm(span=span, adjust=False, min_periods=...).mean()`` (:func:`indicators.ema`)."""

        def make() -> Array:
            ewm = self.series(name).ewm(span=span, adjust=False, min_periods=min_periods)
            return np.asarray(ewm.mean().to_numpy(dtype="float64"))

        return self.once(("ewm", name, span, min_periods), make)  # type: ignore[no-any-return]


def _public(x: Array, window: int, stat: str, **kwargs: Any) -> Array:
    """The public API: ``Series(x).rolling(window).<stat>(**kwargs)``."""
    roll = pd.Series(x, copy=False).rolling(window)
    return np.asarray(getattr(roll, stat)(**kwargs).to_numpy(dtype="float64"))


try:  # the Cython routines of pandas' fixed windows (private: checked below)
    from pandas._libs.window import aggregations as _aggregations

    _ROUTINES: dict[str, Callable[..., Array]] = {
        "sum": _aggregations.roll_sum,
        "mean": _aggregations.roll_mean,
        "std": _aggregations.roll_var,
        "max": _aggregations.roll_max,
        "min": _aggregations.roll_min,
        "skew": _aggregations.roll_skew,
        "kurt": _aggregations.roll_kurt,
    }
except (ImportError, AttributeError):  # pragma: no cover - a pandas without them
    _ROUTINES = {}


def _fixed_bounds(n: int, window: int) -> tuple[Array, Array]:
    """``FixedWindowIndexer(window).get_window_bounds(n)``: trailing windows, clipped."""
    end = np.arange(1, n + 1, dtype="int64")
    start = end - window
    return np.clip(start, 0, n), np.clip(end, 0, n)


def _direct(x: Array, window: int, stat: str, bounds: tuple[Array, Array], ddof: int = 1) -> Array:
    """``Series(x).rolling(window).<stat>()`` by pandas' Cython routine, without pandas."""
    if x.size == 0:
        return x.copy()
    inf = np.isinf(x)
    values = np.where(inf, np.nan, x) if inf.any() else x
    start, end = bounds
    with np.errstate(all="ignore"):
        if stat != "std":
            return np.asarray(_ROUTINES[stat](values, start, end, window))
        var = np.asarray(_ROUTINES["std"](values, start, end, window, ddof))
        out = np.sqrt(var)  # pandas' zsqrt: negative variances (rounding) give 0
        out[var < 0] = 0
        return out


def _direct_matches_public() -> bool:
    """The direct path gives the public API's values, bit for bit, on NaN, inf and ties."""
    if len(_ROUTINES) != 7:
        return False
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    x[[5, 40, 41]] = np.nan
    x[[100, 200]] = np.inf
    x[250:270] = 1.5  # a flat stretch: zero variance
    try:
        for window in (1, 3, 20, 63, 400):
            bounds = _fixed_bounds(len(x), window)
            for stat, kwargs in (
                ("sum", {}),
                ("mean", {}),
                ("std", {}),
                ("std", {"ddof": 0}),
                ("max", {}),
                ("min", {}),
                ("skew", {}),
                ("kurt", {}),
            ):
                got = _direct(x, window, stat, bounds, **kwargs)
                want = _public(x, window, stat, **kwargs)
                if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
                    return False
    except Exception:  # a changed signature: use the public API
        return False
    return True


_DIRECT = _direct_matches_public()
"""Whether :meth:`Bars.rolling` calls pandas' Cython window routines directly."""


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
