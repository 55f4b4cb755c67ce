"""Request fields and checks that several operations share (strategy, parameters, dates)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, Field

StrategyName = Annotated[
    str,
    Field(description="Strategy name", json_schema_extra={"choices": "core.strategies:STRATEGIES"}),
]
"""A strategy of :data:`core.strategies.STRATEGIES` (each request checks it is known)."""

StrategyParams = Annotated[
    dict[str, Any],
    Field(default_factory=dict, description="Strategy parameter name=value (repeatable)"),
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

FirstDate = Annotated[date | None, Field(description="First date (YYYY-MM-DD)")]
LastDate = Annotated[date | None, Field(description="Last date (YYYY-MM-DD)")]


def check_date_order(start: date | None, end: date | None) -> None:
    """ValueError when both dates are given and ``start`` is not before ``end``."""
    if start and end and start >= end:
        raise ValueError(f"start {start} must be before end {end}")


__all__ = [
    "ROW_ID_MAX",
    "FirstDate",
    "LastDate",
    "StrategyName",
    "StrategyParams",
    "UniqueSymbols",
    "check_date_order",
]
