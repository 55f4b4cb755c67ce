"""Registry of named strategies and a validating entry point."""

from __future__ import annotations

import math
import numbers
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import annotated_types as at
import numpy as np
import pandas as pd
from pydantic import ValidationError

from core.strategies.single import (
    BuyAndHoldParams,
    DonchianParams,
    MACrossoverParams,
    MeanReversionParams,
    StrategyParams,
    TSMomentumParams,
    VolTargetTrendParams,
    buy_and_hold,
    donchian_breakout,
    ma_crossover,
    mean_reversion,
    ts_momentum,
    vol_target_trend,
)


class StrategyEntry(NamedTuple):
    """One registered strategy; ``windows`` are its parameters counted in bars."""

    params_model: type[StrategyParams]
    function: Callable[..., pd.Series]
    description: str
    windows: tuple[str, ...] = ()


STRATEGIES: dict[str, StrategyEntry] = {
    "buy_and_hold": StrategyEntry(BuyAndHoldParams, buy_and_hold, "Fully long on every bar."),
    "ma_crossover": StrategyEntry(
        MACrossoverParams,
        ma_crossover,
        "Long while SMA(fast) > SMA(slow); optional short.",
        ("fast", "slow"),
    ),
    "donchian_breakout": StrategyEntry(
        DonchianParams,
        donchian_breakout,
        "Channel breakout with a shorter exit channel.",
        ("window", "exit_window"),
    ),
    "mean_reversion": StrategyEntry(
        MeanReversionParams,
        mean_reversion,
        "Fade z-score or RSI extremes; exit near the mean.",
        ("window",),
    ),
    "ts_momentum": StrategyEntry(
        TSMomentumParams,
        ts_momentum,
        "Sign of the past lookback return (time-series momentum).",
        ("lookback",),
    ),
    "vol_target_trend": StrategyEntry(
        VolTargetTrendParams,
        vol_target_trend,
        "Trend filter sized to a volatility target, capped at max leverage.",
        ("trend_window", "vol_window"),
    ),
}


@dataclass(frozen=True)
class ParamSpec:
    """The declared type and valid range of one strategy parameter.

    >>> param_specs("ma_crossover")["fast"].describe()
    'an integer in [1, 100000] (bars)'
    """

    name: str
    kind: str  # "int", "float", "bool" or "choice"
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    choices: tuple[Any, ...] = ()
    window: bool = False

    def describe(self) -> str:
        """The valid values in words, e.g. ``'a number in (0, 10]'``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = "an integer" if self.kind == "int" else "a number"
        lo = "-inf" if self.low is None else _num(self.low)
        hi = "inf" if self.high is None else _num(self.high)
        left = "[" if self.low_inclusive and self.low is not None else "("
        right = "]" if self.high_inclusive and self.high is not None else ")"
        unit = " (bars)" if self.window else ""
        return f"{noun} in {left}{lo}, {hi}{right}{unit}"

    def contains(self, value: float) -> bool:
        """Whether a finite number lies in the range (the integer rule is not checked)."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_inclusive)
        ):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_inclusive))
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def param_specs(name: str) -> dict[str, ParamSpec]:
    """Declared type and range of every parameter of strategy ``name``, from its model."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    entry = STRATEGIES[name]
    out: dict[str, ParamSpec] = {}
    for field_name, field in entry.params_model.model_fields.items():
        annotation = field.annotation
        if typing.get_origin(annotation) is typing.Literal:
            out[field_name] = ParamSpec(field_name, "choice", choices=typing.get_args(annotation))
            continue
        if annotation is bool:
            out[field_name] = ParamSpec(field_name, "bool")
            continue
        bounds: dict[str, Any] = {}
        for item in field.metadata:
            if isinstance(item, at.Ge):
                bounds.update(low=float(item.ge), low_inclusive=True)  # type: ignore[arg-type]
            elif isinstance(item, at.Gt):
                bounds.update(low=float(item.gt), low_inclusive=False)  # type: ignore[arg-type]
            elif isinstance(item, at.Le):
                bounds.update(high=float(item.le), high_inclusive=True)  # type: ignore[arg-type]
            elif isinstance(item, at.Lt):
                bounds.update(high=float(item.lt), high_inclusive=False)  # type: ignore[arg-type]
        kind = "int" if annotation is int else "float"
        out[field_name] = ParamSpec(field_name, kind, window=field_name in entry.windows, **bounds)
    return out


def _format_errors(name: str, err: ValidationError) -> str:
    specs = param_specs(name)
    parts = []
    for item in err.errors():
        loc = ".".join(str(x) for x in item["loc"])
        msg = str(item["msg"]).removeprefix("Value error, ")
        if not loc:  # a rule across parameters (fast < slow): its message says it all
            parts.append(msg)
            continue
        if item["type"] == "extra_forbidden":
            hint = f"use {', '.join(sorted(specs))}" if specs else "it takes no parameters"
            msg = f"{name} has no parameter {loc!r}; {hint}"
        elif loc in specs:
            msg = f"{loc} must be {specs[loc].describe()}, got {_short(item.get('input'))}"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def validate_params(name: str, params: Mapping[str, Any] | StrategyParams | None) -> StrategyParams:
    """Build the params model of strategy ``name``; raise ValueError with a readable message.

    >>> validate_params("ma_crossover", {"fast": 5, "slow": 20}).fast
    5
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    model = STRATEGIES[name].params_model
    if isinstance(params, model):
        return params
    if isinstance(params, StrategyParams):
        params = params.model_dump()
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as err:
        raise ValueError(f"invalid parameters for {name}: {_format_errors(name, err)}") from None


def check_param(name: str, field: str, value: Any) -> None:
    """Check one parameter value against its declared type and range (no cross-field rules).

    >>> try:
    ...     check_param("ma_crossover", "fast", 0)
    ... except ParamRangeError as exc:
    ...     print(exc.message)
    fast must be an integer in [1, 100000] (bars), got 0
    """
    specs = param_specs(name)
    if field not in specs:
        hint = f"use {', '.join(sorted(specs))}" if specs else "it takes no parameters"
        raise ParamRangeError(field, f"{name} has no parameter {field!r}; {hint}")
    spec = specs[field]
    wrong = f"{field} must be {spec.describe()}, got {_short(value)}"
    if spec.kind == "bool":
        if not isinstance(value, bool | np.bool_):
            raise ParamRangeError(field, wrong)
        return
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise ParamRangeError(field, wrong)
        return
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ParamRangeError(field, wrong)
    try:
        number = float(value)
    except OverflowError:  # an int with hundreds of digits
        raise ParamRangeError(field, wrong) from None
    if spec.kind == "int" and not number.is_integer():
        raise ParamRangeError(field, wrong)
    if not spec.contains(number):
        raise ParamRangeError(field, wrong)


class ParamRangeError(ValueError):
    """A parameter outside its valid range, with the field it belongs to (``errors()``
    has the shape of pydantic's, so forms can show it beside the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def errors(self) -> list[dict[str, Any]]:
        """One pydantic-style error: ``loc`` is the field, ``msg`` the message."""
        return [{"loc": ("params", self.field), "msg": self.message, "type": "range"}]


def check_windows(name: str, params: Mapping[str, Any] | StrategyParams, bars: int) -> None:
    """Refuse a window longer than the ``bars`` of data it will run on.

    >>> try:
    ...     check_windows("ts_momentum", {"lookback": 500}, 300)
    ... except ParamRangeError as exc:
    ...     print(exc.message.split("; ")[1])
    lookback must be an integer in [1, 300] (bars)
    """
    model = validate_params(name, params)
    specs = param_specs(name)
    for field in STRATEGIES[name].windows:
        value = getattr(model, field)
        if value > bars:
            lowest = specs[field].low
            low = _num(lowest) if lowest is not None else "1"
            raise ParamRangeError(
                field,
                f"{value} bars is longer than the {bars} bars of data; "
                f"{field} must be an integer in [{low}, {bars}] (bars)",
            )


GridConstraint = Callable[[Mapping[str, np.ndarray]], np.ndarray]
"""``f(param name -> values of every combination) -> bool array`` of those to keep."""
ORDERED_WINDOWS: tuple[tuple[str, str], ...] = (("fast", "slow"),)
"""Window pairs that must be strictly increasing (``fast < slow`` for the crossover)."""


def _increasing(low: str, high: str) -> GridConstraint:
    def keep(values: Mapping[str, np.ndarray]) -> np.ndarray:
        return np.asarray(values[low] < values[high], dtype=bool)

    keep.__doc__ = f"{low} < {high}"
    return keep


def grid_constraints(name: str, axes: Collection[str]) -> list[GridConstraint]:
    """The cross-parameter rules a sweep over ``axes`` of strategy ``name`` applies to all
    combinations at once, before the params model checks each one: ``fast < slow`` when
    both are swept.

    >>> rules = grid_constraints("ma_crossover", ["fast", "slow"])
    >>> rules[0]({"fast": np.array([5, 50]), "slow": np.array([20, 20])}).tolist()
    [True, False]
    >>> grid_constraints("ma_crossover", ["fast"])
    []
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    swept = set(axes)
    return [_increasing(low, high) for low, high in ORDERED_WINDOWS if {low, high} <= swept]


def run_strategy(
    name: str, prices: pd.DataFrame, params: Mapping[str, Any] | StrategyParams | None = None
) -> pd.Series:
    """Validate ``params`` and return strategy ``name``'s target positions on ``prices``."""
    model = validate_params(name, params)
    return STRATEGIES[name].function(prices, model)
