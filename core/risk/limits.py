"""Risk limits: one frozen, validated configuration of every pre-trade and portfolio limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VarMethod = Literal["historical", "parametric"]

_FRACTION_FIELDS = (
    "max_weight_per_asset",
    "max_daily_loss",
    "max_drawdown",
    "var_limit_95",
    "max_concentration",
)
_EXAMPLES = {
    "max_weight_per_asset": "0.25 for 25% of equity",
    "max_daily_loss": "0.03 for a 3% loss",
    "max_drawdown": "0.15 for 15% below the peak",
    "var_limit_95": "0.03 for 3% of equity",
    "max_concentration": "0.5 for half of the portfolio's risk",
}


class RiskLimits(BaseModel):
    """Every limit the pre-trade check and the risk view enforce (frozen, keyword-only).

    Fractions are of current equity. ``max_gross_exposure`` and ``max_net_exposure`` may
    exceed 1 (leverage); the others are fractions in ``(0, 1]``.

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

    @field_validator(*_FRACTION_FIELDS)
    @classmethod
    def _fraction(cls, value: float, info: Any) -> float:
        if not 0.0 < value <= 1.0:
            name = info.field_name
            raise ValueError(
                f"{name} must be a fraction in (0, 1], e.g. {_EXAMPLES[name]}; got {value!r}"
            )
        return value

    @field_validator("max_gross_exposure", "max_net_exposure")
    @classmethod
    def _exposure(cls, value: float, info: Any) -> float:
        if not 0.0 < value <= 10.0:
            raise ValueError(
                f"{info.field_name} must be in (0, 10] (a multiple of equity, 1.0 = no "
                f"leverage); got {value!r}"
            )
        return value

    @field_validator("max_order_notional")
    @classmethod
    def _notional(cls, value: float) -> float:
        if not value > 0.0:
            raise ValueError(
                f"max_order_notional must be a positive amount of money, e.g. 50000; got {value!r}"
            )
        return value

    @field_validator("max_orders_per_minute")
    @classmethod
    def _rate(cls, value: int) -> int:
        if value < 1:
            raise ValueError(
                f"max_orders_per_minute must be at least 1 (set e.g. 30); got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RiskLimits:
        if self.max_gross_exposure < self.max_net_exposure:
            raise ValueError(
                f"max_gross_exposure must be >= max_net_exposure (net can never exceed "
                f"gross): raise max_gross_exposure to at least {self.max_net_exposure} or lower "
                f"max_net_exposure to at most {self.max_gross_exposure}"
            )
        if self.max_weight_per_asset > self.max_gross_exposure:
            raise ValueError(
                f"max_weight_per_asset must be <= max_gross_exposure: lower "
                f"max_weight_per_asset to at most {self.max_gross_exposure}"
            )
        if self.max_daily_loss > self.max_drawdown:
            raise ValueError(
                f"max_daily_loss must be <= max_drawdown (a day's loss is also a drawdown): "
                f"lower max_daily_loss to at most {self.max_drawdown} or raise max_drawdown"
            )
        return self

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
        return cls(**data)
