"""Column formats for ``st.dataframe``: each column shown by its kind (percent, money,
integer, ratio, date, number), matching :mod:`app.components.numbers`.

>>> st.dataframe(frame, column_config=column_formats(frame))  # doctest: +SKIP

A column's kind comes from ``kinds`` when given, else from its dtype and name: datetimes are
dates, integer dtypes are integers, and a float column is a percent, ratio, money or integer
quantity when its name says so ("total_return", "Sharpe", "equity", "n_trades" ...); any other
float column is a plain number with thousands separators and at most three decimals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
import streamlit as st

Kind = Literal["percent", "money", "integer", "ratio", "date", "number"]

_WORDS: dict[Kind, tuple[str, ...]] = {
    # A name with "%" holds values already in percent units: it is a plain number.
    "percent": (
        "return",
        "cagr",
        "volatility",
        "drawdown",
        "win rate",
        "hit rate",
        "exposure",
        "pbo",
        "weight",
        "utilization",
        "fraction",
        "share",
    ),
    "ratio": (
        "sharpe",
        "sortino",
        "calmar",
        "profit factor",
        "dsr",
        "deflated",
        "auc",
        "ratio",
        "turnover",
        "beta",
    ),
    "money": ("equity", "pnl", "p&l", "cash", "notional", "capital", "amount", "price"),
    "integer": (
        "n ",
        "trades",
        "count",
        "bars",
        "duration",
        "version",
        "id",
        "rows",
        "fold",
        "orders",
        "symbols",
    ),
}
_ID_WORDS = ("id", "version", "fold")
"""Integer columns shown without thousands separators (identifiers, not quantities)."""


def _words(name: object) -> str:
    """The column name lower-cased, with "_", "-" and "." as spaces, padded with spaces."""
    return " " + re.sub(r"[_\-.]+", " ", str(name).lower()).strip() + " "


def _named(name: object, kind: Kind) -> bool:
    words = _words(name)
    return any(re.search(rf"\b{re.escape(w.strip())}\b", words) for w in _WORDS[kind])


def column_kind(name: object, column: pd.Series) -> Kind | None:
    """The kind of one column, or None for a column that is neither numbers nor dates."""
    if pd.api.types.is_bool_dtype(column):
        return None
    if pd.api.types.is_datetime64_any_dtype(column):
        return "date"
    if column.dtype == object:
        values = column.dropna()
        if len(values) and all(isinstance(v, date | datetime) for v in values):
            return "date"
        return None
    if pd.api.types.is_integer_dtype(column):
        return "integer"
    if not pd.api.types.is_float_dtype(column):
        return None
    if "%" in str(name):
        return "number"
    for kind in ("integer", "ratio", "percent", "money"):
        if _named(name, kind):  # type: ignore[arg-type]
            return kind  # type: ignore[return-value]
    return "number"


def column_kinds(frame: pd.DataFrame) -> dict[str, Kind]:
    """Every formatted column's kind, by column name."""
    kinds: dict[str, Kind] = {}
    for name in frame.columns:
        kind = column_kind(name, frame[name])
        if kind is not None:
            kinds[str(name)] = kind
    return kinds


def _all_midnight(column: pd.Series) -> bool:
    stamps = pd.to_datetime(column.dropna())
    if stamps.empty:
        return True
    return bool((stamps == stamps.dt.normalize()).all())


def _config(name: str, kind: Kind, column: pd.Series, currency: str) -> Any:
    """The streamlit column config of one column of ``kind``."""
    if kind == "date":
        if column.dtype == object:
            values = column.dropna()
            if all(isinstance(v, date) and not isinstance(v, datetime) for v in values):
                return st.column_config.DateColumn(format="YYYY-MM-DD")
        midnight = _all_midnight(column)
        return st.column_config.DatetimeColumn(
            format="YYYY-MM-DD" if midnight else "YYYY-MM-DD HH:mm"
        )
    if kind == "percent":
        return st.column_config.NumberColumn(format="percent")
    if kind == "money":
        code = currency.upper()
        if code == "USD":
            return st.column_config.NumberColumn(format="dollar")
        return st.column_config.NumberColumn(format=f"%,.2f {code}")
    if kind == "integer":
        is_id = any(re.search(rf"\b{w}\b", _words(name)) for w in _ID_WORDS)
        return st.column_config.NumberColumn(format="%d" if is_id else "%,d")
    if kind == "ratio":
        return st.column_config.NumberColumn(format="%.2f")
    return st.column_config.NumberColumn(format="localized")


def column_formats(
    frame: pd.DataFrame,
    *,
    kinds: Mapping[str, Kind] | None = None,
    currency: str = "USD",
) -> dict[str, Any]:
    """``column_config`` for ``st.dataframe(frame, ...)``: one entry per number or date column.

    ``kinds`` overrides the inferred kind of the columns it names; ``currency`` is the
    currency of money columns ("$" for USD, the code after the amount otherwise).
    """
    chosen = column_kinds(frame) | dict(kinds or {})
    by_name = {str(c): c for c in frame.columns}
    return {
        name: _config(name, kind, frame[by_name[name]], currency)
        for name, kind in chosen.items()
        if name in by_name
    }


__all__ = ["Kind", "column_formats", "column_kind", "column_kinds"]
