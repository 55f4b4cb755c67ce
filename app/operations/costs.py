"""Trading costs shared by every request that trades: the one place their defaults live."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_COST = 0.05
"""Largest fee or slippage accepted, as a fraction (500 bps)."""


class Costs(BaseModel):
    """Fees and slippage per fill, as fractions of the traded value (5 bps = 0.0005).

    Every request that trades inherits these two fields, so a default changed here
    changes the CLI flags, the page inputs and the API alike.

    >>> Costs().fees
    0.0005
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fees: float = Field(
        title="Fees",
        default=0.0005,
        ge=0,
        le=MAX_COST,
        description="Fees per fill, as a fraction of the traded value (5 bps = 0.0005)",
    )
    slippage: float = Field(
        title="Slippage",
        default=0.0005,
        ge=0,
        le=MAX_COST,
        description="Slippage per fill: the adverse price move, as a fraction (5 bps = 0.0005)",
    )


def default_bps(field: str) -> float:
    """A cost field's default in basis points, for page inputs that ask for bps.

    >>> default_bps("slippage")
    5.0
    """
    return round(float(Costs.model_fields[field].default) * 1e4, 6)


__all__ = ["MAX_COST", "Costs", "default_bps"]
