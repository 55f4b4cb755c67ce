"""Risk limits: one frozen, validated configuration of every pre-trade and portfolio limit.

Every numeric limit has a unit and a valid range (:data:`LIMIT_BOUNDS`); the validator, the
Risk page's form and the CLI all read them from here, so the three can never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

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
        if not math.isfinite(value):
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

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    def _not_a_flag(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool):
            raise ValueError(
                f"{info.field_name} must be {LIMIT_BOUNDS[str(info.field_name)].describe()}; "
                f"got the yes/no value {value!r}"
            )
        return value

    @field_validator(*LIMIT_BOUNDS)
    @classmethod
    def _in_range(cls, value: float, info: ValidationInfo) -> float:
        name = str(info.field_name)
        bounds = LIMIT_BOUNDS[name]
        if not bounds.contains(value):
            raise ValueError(f"{name} must be {bounds.describe()}; got {value!r}")
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
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of limit names to values")
        return cls.model_validate(data)
