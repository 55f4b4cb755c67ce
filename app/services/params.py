"""Parsing of ``name=value`` parameters typed by users (CLI flags, A/B arm specs)."""

from __future__ import annotations

from typing import Any


def parse_value(text: str) -> bool | int | float | str:
    """The most specific type a typed value can have.

    >>> [parse_value(v) for v in ("true", "20", "0.5", "rsi")]
    [True, 20, 0.5, 'rsi']
    """
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


__all__: list[Any] = ["parse_value"]
