"""Number and date formatting for display: one place for percentages, money, counts,
ratios and days, so every page shows figures the same way (no streamlit here).

Missing values (None, NaN, NaT, pandas NA) show as an en dash; infinities as "∞".
A value that rounds to zero never shows a minus sign.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from numbers import Real
from typing import Any

import pandas as pd

MISSING = "–"
"""What a missing value shows as (an en dash)."""

CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$"}
"""Currencies written as a symbol before the amount; every other code follows the amount."""


def _finite(x: Any) -> float | str:
    """``x`` as a float, or the text a missing or infinite value shows as."""
    if x is None or x is pd.NaT or x is pd.NA:
        return MISSING
    if isinstance(x, bool) or not isinstance(x, Real):
        try:
            x = float(x)
        except (TypeError, ValueError):
            return MISSING
    value = float(x)
    if math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return value


def _grouped(value: float, digits: int) -> str:
    """``value`` with thousands separators and ``digits`` decimals, no "-0"."""
    text = f"{value:,.{digits}f}"
    if text.startswith("-") and not any(c not in "0.,-" for c in text):
        return text[1:]
    return text


def number(x: Any, digits: int = 2) -> str:
    """A number with thousands separators: ``number(12345.678)`` -> "12,345.68"."""
    value = _finite(x)
    return value if isinstance(value, str) else _grouped(value, digits)


def integer(x: Any) -> str:
    """A count or other integral quantity: ``integer(12345.0)`` -> "12,345"."""
    return number(x, 0)


def ratio(x: Any, digits: int = 2) -> str:
    """A ratio such as Sharpe or Sortino: ``ratio(1.2345)`` -> "1.23"."""
    return number(x, digits)


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: ``pct(0.123)`` -> "12.3%"."""
    value = _finite(x)
    if isinstance(value, str):
        return value
    return f"{_grouped(value * 100, digits)}%"


def money(x: Any, currency: str = "USD", digits: int = 2) -> str:
    """An amount of money: "$12,345.67" for USD, "12,345.67 EUR" for other currencies."""
    value = _finite(x)
    if isinstance(value, str):
        return value
    text = _grouped(value, digits)
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{text} {currency.upper()}"
    return f"-{symbol}{text[1:]}" if text.startswith("-") else f"{symbol}{text}"


def day(ts: Any) -> str:
    """A date, with the time only when it is not midnight: "2013-05-01" or "2013-05-01 14:30".

    Accepts dates, datetimes, pandas timestamps, numpy datetime64 and ISO strings; a
    timezone-aware timestamp is shown in its own timezone.
    """
    if ts is None or ts is pd.NaT or ts is pd.NA:
        return MISSING
    if isinstance(ts, date) and not isinstance(ts, datetime):
        return ts.isoformat()
    try:
        stamp = pd.Timestamp(ts)
    except (TypeError, ValueError):
        return MISSING
    if pd.isna(stamp):
        return MISSING
    if stamp == stamp.normalize():
        return stamp.strftime("%Y-%m-%d")
    return stamp.strftime("%Y-%m-%d %H:%M")


__all__ = ["CURRENCY_SYMBOLS", "MISSING", "day", "integer", "money", "number", "pct", "ratio"]
