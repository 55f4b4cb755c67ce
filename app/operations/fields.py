"""Request fields and checks that several operations share (strategy, parameters, dates)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, Field

StrategyName = Annotated[
    str,
    Field(
        title="Strategy",
        description="Strategy name",
        json_schema_extra={"choices": "core.strategies:STRATEGIES"},
    ),
]
"""A strategy of :data:`core.strategies.STRATEGIES` (each request checks it is known)."""

StrategyParams = Annotated[
    dict[str, Any],
    Field(
        default_factory=dict,
        title="Strategy parameters",
        description="Strategy parameter name=value (repeatable)",
    ),
]
"""The strategy's parameters by name (checked with :func:`core.strategies.validate_params`)."""


def _each_once(symbols: list[str]) -> list[str]:
    if len(set(symbols)) != len(symbols):
        raise ValueError("each symbol may appear once")
    return symbols


UniqueSymbols = Annotated[list[str], AfterValidator(_each_once)]
"""Symbols of which none is named twice (ValueError "each symbol may appear once")."""

ROW_ID_MAX = 2**63 - 1
"""The largest row id a database stores (SQLite and PostgreSQL BIGINT): an id field's bound,
so a larger one is refused as bad input rather than overflowing the driver."""

FirstDate = Annotated[date | None, Field(title="First date", description="First date (YYYY-MM-DD)")]
LastDate = Annotated[date | None, Field(title="Last date", description="Last date (YYYY-MM-DD)")]


def check_strategy_params(strategy: str, params: dict[str, Any]) -> None:
    """Each parameter against its declared range (a ``ParamRangeError`` beside it), then
    the rules across parameters (``fast`` below ``slow``)."""
    from app.operations.errors import RuleError
    from core.strategies import validate_params  # the catalog imports pandas
    from core.strategies.catalog import check_param

    for name, value in params.items():
        check_param(strategy, name, value)
    try:
        validate_params(strategy, params)
    except ValueError as exc:  # a rule across parameters: its sentence says it all
        text = str(exc).removeprefix(f"invalid parameters for {strategy}: ")
        raise RuleError(text, "params") from None


def check_date_order(start: date | None, end: date | None) -> None:
    """ValueError (beside ``start``) when both dates are given and ``start`` is not before
    ``end``."""
    from app.operations.errors import RuleError

    if start and end and start >= end:
        raise RuleError(f"the first date {start} must be before the last date {end}", "start")


__all__ = [
    "ROW_ID_MAX",
    "FirstDate",
    "LastDate",
    "StrategyName",
    "StrategyParams",
    "UniqueSymbols",
    "check_date_order",
    "check_strategy_params",
]
