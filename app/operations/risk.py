"""Risk operations: the pre-trade check of one order, and a change of the risk limits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.fields import ROW_ID_MAX
from app.operations.paper import SESSION_MAX, SESSION_PATTERN
from core.risk.limits import check_limit_values


class RiskCheckRequest(BaseModel):
    """One order to check against a paper session's book and the limits in force."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(
        title="Symbol", min_length=1, max_length=64, description="Symbol of the order, e.g. SP500"
    )
    qty: float = Field(title="Quantity", gt=0, le=1e12, description="Number of shares, e.g. 100")
    side: Literal["buy", "sell"] = Field(title="Side", default="buy", description="buy or sell")
    dataset: str = Field(
        title="Dataset", default="ohlcv_daily", description="Dataset of the prices"
    )
    session: str | None = Field(
        title="Session",
        default=None,
        pattern=SESSION_PATTERN,
        max_length=SESSION_MAX,
        description="Paper session (default newest)",
    )
    price: float | None = Field(
        title="Price", default=None, gt=0, le=1e9, description="Price (default the latest close)"
    )


class LimitsChangeRequest(BaseModel):
    """New values for some risk limits, with the reason kept in the audit history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    values: dict[str, Any] = Field(
        title="Limits", min_length=1, description="name=value pairs, e.g. max_weight_per_asset=0.2"
    )
    reason: str = Field(
        title="Reason for the change", max_length=500, description="Why (kept in the audit history)"
    )
    expected_version: int | None = Field(
        title="Limits version",
        default=None,
        ge=0,
        le=ROW_ID_MAX,
        description="Refuse (exit 2, naming who changed them and when) if the limits are no "
        "longer at this version; default: apply on top of the version in force",
    )

    @model_validator(mode="after")
    def _each_limit(self) -> LimitsChangeRequest:
        # Each message names its limit, e.g. "max_drawdown must be a fraction of ...".
        errors = check_limit_values(self.values)
        if errors:
            raise ValueError("; ".join(errors.values()))
        return self

    @field_validator("reason")
    @classmethod
    def _reason(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("say why the limits change (kept in the audit history)")
        return reason.strip()


def check_payload(outcome: Any) -> dict[str, Any]:
    """``{approved, rejection_reasons, allowed_quantity, ..., limits_version, price, equity}``."""
    return {
        **outcome.decision.to_dict(),
        "limits_version": outcome.limits_version,
        "price": outcome.price,
        "equity": outcome.equity,
    }


def change_payload(change: Any) -> dict[str, Any]:
    """The stored version, what it changed and who changed it."""
    return {
        "version": change.version,
        "changes": {k: list(v) for k, v in change.changes.items()},
        "changed_by": change.changed_by,
    }


def _change_text(change: Any, payload: dict[str, Any]) -> str:
    return f"limits version {change.version}: " + ", ".join(
        f"{k} {a} -> {b}" for k, (a, b) in change.changes.items()
    )


RISK_CHECK = register(
    Operation(
        name="risk check",
        feature="risk",
        summary="Pre-trade check: {approved, rejection_reasons, allowed_quantity}.",
        request=RiskCheckRequest,
        service="app.services.risk:check_order",
        payload=check_payload,
    )
)
LIMITS_SET = register(
    Operation(
        name="risk limits set",
        feature="risk",
        summary="Change limits (risk role); validated, versioned and audited.",
        request=LimitsChangeRequest,
        service="app.services.risk:set_limits",
        payload=change_payload,
        text=_change_text,
        flags={"values": Flag(argument=True)},
        actor=True,
    )
)

__all__ = [
    "LIMITS_SET",
    "RISK_CHECK",
    "LimitsChangeRequest",
    "RiskCheckRequest",
    "change_payload",
    "check_payload",
]
