"""Parsing of ``name=value`` parameters typed by users (CLI flags, A/B arm specs)."""

from __future__ import annotations

import math
import re
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
MAX_DIGITS = 300


def parse_value(text: str) -> bool | int | float | str:
    """The most specific type a typed value can have; ValueError for non-finite numbers.

    Only ASCII decimal numbers are numbers (``1_000`` or Arabic-Indic digits stay text,
    so the parameter's own check reports them).

    >>> [parse_value(v) for v in ("true", "20", "0.5", "1e3", "rsi")]
    [True, 20, 0.5, 1000.0, 'rsi']
    >>> parse_value("inf")
    Traceback (most recent call last):
    ...
    ValueError: 'inf' is not a finite number; give a number such as 20 or 0.5
    """
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(stripped):
        if len(stripped.lstrip("+-")) > MAX_DIGITS:
            raise ValueError(
                f"{text[:20]!r}... has more than {MAX_DIGITS} digits; give a smaller number"
            )
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        value = float(stripped)
        if not math.isfinite(value):
            raise ValueError(f"{text!r} is too large to be a number (the limit is about 1.8e308)")
        return value
    if _NON_FINITE.fullmatch(stripped):
        raise ValueError(f"{text!r} is not a finite number; give a number such as 20 or 0.5")
    return text


__all__: list[Any] = ["parse_value"]
