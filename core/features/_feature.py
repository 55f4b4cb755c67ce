"""The feature type, the catalog lookup and the functions that compute registered features."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.features._bars import Bars

if TYPE_CHECKING:
    from core.features._bars import Array

OHLCV: tuple[str, ...] = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, kw_only=True)
class Feature:
    """A named, causal indicator computed from columns of a canonical price frame.

    Attributes
    ----------
    name : str
        Registry key and output column name, e.g. ``"rsi_14"``.
    inputs : tuple of str
        Price columns the feature reads, a subset of ``OHLCV``.
    lookback : int
        Bars of history needed before the first valid value: rows ``0 .. lookback - 1``
        are NaN and every later row is finite on clean data.
    description : str
        One line for the UI.
    func : callable
        ``func(prices) -> Series`` on the frame's index; must use no future bars.
    kernel : callable, optional
        ``kernel(bars) -> array``, the same values as ``func`` computed from a
        :class:`core.features._bars.Bars` that :func:`compute_features` shares between
        all the features of one call (the built-in catalogue has one for every feature;
        without it ``func`` is called).
    """

    name: str
    inputs: tuple[str, ...]
    lookback: int
    description: str
    func: Callable[[pd.DataFrame], pd.Series]
    kernel: Callable[[Bars], Array] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"feature name must be a non-empty identifier, got {self.name!r}")
        if not self.inputs or not set(self.inputs) <= set(OHLCV):
            raise ValueError(
                f"feature {self.name!r}: inputs must be a non-empty subset of {OHLCV}, "
                f"got {self.inputs}"
            )
        if self.lookback < 0:
            raise ValueError(f"feature {self.name!r}: lookback must be >= 0, got {self.lookback}")
        if not self.description.strip():
            raise ValueError(f"feature {self.name!r}: description must not be empty")


class MissingInputError(ValueError):
    """A requested feature needs price columns the dataset does not have."""

    def __init__(self, feature: str, missing: Sequence[str], present: Sequence[str]) -> None:
        self.feature = feature
        self.missing = tuple(missing)
        self.present = tuple(present)
        has = ", ".join(present) if present else "no price columns"
        if tuple(present) == ("close",):
            fix = "Choose a close-only feature or load an OHLC dataset."
        else:
            fix = (
                f"Choose a feature computable from {has} "
                f"or load a dataset with {', '.join(missing)}."
            )
        super().__init__(
            f"feature {feature!r} needs columns {', '.join(missing)}; "
            f"this dataset has {has} only. {fix}"
        )


class UnknownFeatureError(KeyError, ValueError):
    """A feature name that is not registered; the message lists close matches."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        known = list(known)
        close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        self.message = f"unknown feature {name!r}.{hint} See list_features() for all names."
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


REGISTRY: dict[str, Feature] = {}


def register(feature: Feature) -> Feature:
    """Add ``feature`` to :data:`REGISTRY`; a duplicate name raises ValueError."""
    if feature.name in REGISTRY:
        raise ValueError(f"feature {feature.name!r} is already registered")
    REGISTRY[feature.name] = feature
    return feature


def get_feature(name: str) -> Feature:
    """Return the registered feature ``name`` or raise :class:`UnknownFeatureError`."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownFeatureError(name, REGISTRY) from None


def list_features() -> list[Feature]:
    """All registered features, in registration order."""
    return list(REGISTRY.values())


def available_features(columns: Iterable[str]) -> list[str]:
    """Names of the registered features computable from ``columns``, in catalog order.

    >>> "atr_14" in available_features(["close"]), "rsi_14" in available_features(["close"])
    (False, True)
    """
    have = set(columns)
    return [f.name for f in REGISTRY.values() if have.issuperset(f.inputs)]


def max_lookback(names: Iterable[str]) -> int:
    """Largest lookback among ``names`` (0 for none): rows to drop before all are valid.

    >>> max_lookback(["ret_1", "rsi_14"])
    14
    """
    return max((get_feature(n).lookback for n in names), default=0)


def _price_columns(prices: pd.DataFrame) -> dict[str, pd.Series]:
    """The OHLCV columns of ``prices`` that hold a value (any column of an empty frame)."""
    found = {c: prices[c] for c in OHLCV if c in prices.columns}
    if len(prices) == 0:
        return found
    return {
        c: column
        for c, column in found.items()
        if (
            not bool(np.isnan(column.to_numpy()).all())
            if column.dtype == np.float64
            else bool(column.notna().any())
        )
    }


def _present_columns(prices: pd.DataFrame) -> list[str]:
    """OHLCV columns of ``prices`` that hold a value (any column of an empty frame), in order."""
    return list(_price_columns(prices))


def compute_features(
    prices: pd.DataFrame,
    names: Sequence[str] | None = None,
    *,
    skip_unavailable: bool = False,
) -> pd.DataFrame:
    """Compute registered features on a canonical price frame.

    Intermediates several features share (log returns, rolling means, EMAs, ...) are
    computed once per call (:class:`core.features._bars.Bars`).

    Parameters
    ----------
    prices : DataFrame
        Sorted, unique index; float columns among open, high, low, close, volume. A column
        that is entirely NaN counts as absent.
    names : sequence of str, optional
        Features to compute, in output order. None means every feature computable from
        the columns present.
    skip_unavailable : bool
        With explicit ``names``, silently drop features whose inputs are absent instead
        of raising :class:`MissingInputError`.

    Returns
    -------
    DataFrame
        float64, same index as ``prices``, one column per feature. The first
        ``lookback`` rows of a feature are NaN; infinite values (zero denominators on
        degenerate bars) are reported as NaN.

    Raises
    ------
    UnknownFeatureError
        (a KeyError and a ValueError) for a name not in the catalog.
    MissingInputError
        When a requested feature needs an absent column and ``skip_unavailable`` is False.
    """
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"prices must be a pandas DataFrame, got {type(prices).__name__}")
    if not prices.index.is_unique or not prices.index.is_monotonic_increasing:
        raise ValueError("prices index must be sorted ascending with no duplicate timestamps")
    columns = _price_columns(prices)
    present = list(columns)
    have = set(present)

    if names is None:
        selected = [f for f in REGISTRY.values() if have.issuperset(f.inputs)]
    else:
        if isinstance(names, str):
            raise TypeError("names must be a sequence of feature names, not a single string")
        dupes = sorted(n for n, k in Counter(names).items() if k > 1)
        if dupes:
            raise ValueError(f"feature names requested more than once: {', '.join(dupes)}")
        selected = []
        for name in names:
            feature = get_feature(name)
            missing = [c for c in feature.inputs if c not in have]
            if missing:
                if skip_unavailable:
                    continue
                raise MissingInputError(name, missing, present)
            selected.append(feature)

    frame: pd.DataFrame | None = None  # the float64 price columns, made for a func only
    if all(column.dtype == np.float64 for column in columns.values()):
        # kernels read the float64 columns in place
        bars = Bars(prices, {c: column.to_numpy() for c, column in columns.items()})
    else:
        frame = prices.loc[:, present].astype("float64")
        bars = Bars(frame)
    values = np.empty((len(selected), len(prices)), dtype="float64")  # one row per feature
    with np.errstate(all="ignore"):
        for row, feature in zip(values, selected, strict=True):
            if feature.kernel is not None:
                result = np.asarray(feature.kernel(bars), dtype="float64")
                if result.shape != row.shape:
                    raise RuntimeError(f"feature {feature.name!r} returned a misaligned array")
            else:
                if frame is None:
                    frame = prices.loc[:, present].astype("float64")
                series = feature.func(frame)
                if len(series) != len(frame) or not series.index.equals(frame.index):
                    raise RuntimeError(f"feature {feature.name!r} returned a misaligned series")
                result = np.asarray(series, dtype="float64")
            row[:] = result
    values[np.isinf(values)] = np.nan
    if not selected:
        return pd.DataFrame({}, index=prices.index, dtype="float64")
    return pd.DataFrame(
        values.T, index=prices.index, columns=[f.name for f in selected], copy=False
    )
