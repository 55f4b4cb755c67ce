"""Risk limits: one frozen, validated configuration of every pre-trade and portfolio limit.

Every numeric limit has a unit and a valid range (:data:`LIMIT_BOUNDS`); the validator, the
Risk page's form and the CLI all read them from here, so the three can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

VarMethod = Literal["historical", "parametric"]


@dataclass(frozen=True)
class LimitBounds:
    """The unit and valid range of one numeric limit.

    >>> LIMIT_BOUNDS["max_drawdown"].interval
    '(0, 1]'
    >>> LIMIT_BOUNDS["max_drawdown"].contains(50.0)
    False
    """

    unit: str
    low: float
    high: float
    low_inclusive: bool
    example: str

    @property
    def interval(self) -> str:
        """The range in interval notation, e.g. ``(0, 1]``."""
        left = "[" if self.low_inclusive else "("
        return f"{left}{self.low:g}, {self.high:g}]"

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the range."""
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value >= self.low if self.low_inclusive else value > self.low
        return above and value <= self.high

    def describe(self) -> str:
        """``unit in interval, e.g. example`` (used in every error message and form label)."""
        return f"{self.unit} in {self.interval}, e.g. {self.example}"


LIMIT_BOUNDS: dict[str, LimitBounds] = {
    "max_weight_per_asset": LimitBounds(
        "a fraction of equity", 0.0, 1.0, False, "0.25 for 25% of equity"
    ),
    "max_gross_exposure": LimitBounds(
        "a multiple of equity", 0.0, 10.0, False, "1.0 for no leverage"
    ),
    "max_net_exposure": LimitBounds(
        "a multiple of equity", 0.0, 10.0, False, "1.0 for no leverage"
    ),
    "max_order_notional": LimitBounds(
        "an amount of money (account currency)", 0.0, 1e12, False, "50000"
    ),
    "max_orders_per_minute": LimitBounds("a whole number of orders", 1, 10_000, True, "30"),
    "max_daily_loss": LimitBounds("a fraction of equity", 0.0, 1.0, False, "0.03 for a 3% loss"),
    "max_drawdown": LimitBounds(
        "a fraction of peak equity", 0.0, 1.0, False, "0.15 for 15% below the peak"
    ),
    "var_limit_95": LimitBounds("a fraction of equity", 0.0, 1.0, False, "0.03 for 3% of equity"),
    "max_concentration": LimitBounds(
        "a share of portfolio volatility", 0.0, 1.0, False, "0.5 for half of the risk"
    ),
}


def _range_message(name: str, value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else f"{text[:37]}..."
    got = f"the yes/no value {text}" if isinstance(value, bool) else text
    return f"{name} must be {LIMIT_BOUNDS[name].describe()}; got {got}"


class RiskLimits(BaseModel):
    """Every limit the pre-trade check and the risk view enforce (frozen, keyword-only).

    Each numeric limit is validated in its unit and range (:data:`LIMIT_BOUNDS`); every
    error names its field. ``max_gross_exposure`` and ``max_net_exposure`` may exceed 1
    (leverage); the other fractions are in ``(0, 1]``.

    >>> RiskLimits().max_weight_per_asset
    0.25
    >>> RiskLimits(max_net_exposure=0.5).max_gross_exposure
    1.0
    """

    # validate_default: the rules between limits also run when the later one keeps its default.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    max_weight_per_asset: float = Field(
        default=0.25, description="largest |position value| / equity of one asset"
    )
    max_gross_exposure: float = Field(
        default=1.0, description="largest sum of |position values| / equity"
    )
    max_net_exposure: float = Field(
        default=1.0, description="largest |sum of signed position values| / equity"
    )
    max_order_notional: float = Field(default=50_000.0, description="largest value of one order")
    max_orders_per_minute: int = Field(default=30, description="orders allowed in any 60 s")
    max_daily_loss: float = Field(
        default=0.03, description="loss since the start of the day (fraction) that blocks new risk"
    )
    max_drawdown: float = Field(
        default=0.15, description="fall from peak equity (fraction) that engages the kill switch"
    )
    var_limit_95: float = Field(
        default=0.03, description="largest 1-day 95% value at risk, as a fraction of equity"
    )
    var_method: VarMethod = Field(default="historical", description="how VaR is estimated")
    max_concentration: float = Field(
        default=0.5, description="largest share of portfolio volatility from one asset (Euler)"
    )

    @field_validator(*LIMIT_BOUNDS, mode="before")
    @classmethod
    def _number(cls, value: Any, info: ValidationInfo) -> Any:
        # Numbers (or numeric text) only: no yes/no values, no fractional order counts.
        name = str(info.field_name)
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(_range_message(name, value))
        number: int | float = value  # type: ignore[assignment]
        try:
            if isinstance(value, str):
                number = float(value.strip())
            if cls.model_fields[name].annotation is int:
                if isinstance(number, float) and not number.is_integer():
                    raise ValueError(_range_message(name, value))
                return int(number)
            return float(number)
        except (ValueError, OverflowError):
            raise ValueError(_range_message(name, value)) from None

    @field_validator("var_method", mode="before")
    @classmethod
    def _method(cls, value: Any) -> Any:
        if value not in get_args(VarMethod):
            choices = " or ".join(repr(m) for m in get_args(VarMethod))
            raise ValueError(f"var_method must be {choices}; got {value!r}")
        return value

    @field_validator(*LIMIT_BOUNDS)
    @classmethod
    def _in_range(cls, value: float, info: ValidationInfo) -> float:
        name = str(info.field_name)
        if not LIMIT_BOUNDS[name].contains(value):
            raise ValueError(_range_message(name, value))
        return value

    # Cross-field rules run on the later field of each pair (fields validate in order),
    # so every error carries a field name; each message names both fields.
    @field_validator("max_gross_exposure")
    @classmethod
    def _weight_within_gross(cls, value: float, info: ValidationInfo) -> float:
        weight = info.data.get("max_weight_per_asset")
        if weight is not None and weight > value:
            raise ValueError(
                f"max_gross_exposure ({value!r}) must be >= max_weight_per_asset ({weight!r}): "
                f"raise max_gross_exposure to at least {weight!r} or lower max_weight_per_asset "
                f"to at most {value!r}"
            )
        return value

    @field_validator("max_net_exposure")
    @classmethod
    def _net_within_gross(cls, value: float, info: ValidationInfo) -> float:
        gross = info.data.get("max_gross_exposure")
        if gross is not None and gross < value:
            raise ValueError(
                f"max_net_exposure ({value!r}) must be <= max_gross_exposure ({gross!r}), since "
                f"net can never exceed gross: lower max_net_exposure to at most {gross!r} or "
                f"raise max_gross_exposure to at least {value!r}"
            )
        return value

    @field_validator("max_drawdown")
    @classmethod
    def _daily_loss_within_drawdown(cls, value: float, info: ValidationInfo) -> float:
        daily = info.data.get("max_daily_loss")
        if daily is not None and daily > value:
            raise ValueError(
                f"max_drawdown ({value!r}) must be >= max_daily_loss ({daily!r}), since a day's "
                f"loss is also a drawdown: raise max_drawdown to at least {daily!r} or lower "
                f"max_daily_loss to at most {value!r}"
            )
        return value

    @classmethod
    def from_yaml(cls, path: str | Path) -> RiskLimits:
        """Load limits from a YAML mapping of field names to values.

        Parameters
        ----------
        path
            A YAML file such as ``max_weight_per_asset: 0.2``; missing fields keep defaults.
        """
        import yaml  # only this reader needs it (~20 ms of every risk command's start)

        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of limit names to values")
        return cls.model_validate(data)


def check_limit_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Check each given limit on its own (name, type, unit and range), before any work.

    The rules between limits (e.g. gross >= net) need the other limits in force and are
    checked when the change is applied. Returns limit name -> message (empty when all good).

    >>> check_limit_values({"max_drawdown": 50})["max_drawdown"][:56]
    'max_drawdown must be a fraction of peak equity in (0, 1]'
    >>> check_limit_values({"max_weight": 0.2})["max_weight"]
    "unknown limit 'max_weight'; known limits: max_weight_per_asset (the closest of 10)"
    """
    errors: dict[str, str] = {}
    fields = RiskLimits.model_fields
    for name, value in values.items():
        if name not in fields:
            close = [f for f in fields if str(name) in f or f in str(name)]
            errors[str(name)] = (
                f"unknown limit {name!r}; known limits: {', '.join(close)} (the closest "
                f"of {len(fields)})"
                if close
                else f"unknown limit {name!r}; known limits: {', '.join(fields)}"
            )
            continue
        # The other limits are left unset (None), so the rules between limits stay silent.
        unset: dict[str, Any] = dict.fromkeys(fields)
        blank = RiskLimits.model_construct(**unset)
        try:
            RiskLimits.__pydantic_validator__.validate_assignment(blank, name, value)
        except ValidationError as exc:
            errors[name] = "; ".join(
                str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
            )
    return errors
