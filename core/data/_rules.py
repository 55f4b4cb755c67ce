"""Rules on parsed values: prices > 0, volume >= 0, OHLC consistency, unique and ordered dates.

Each rule returns :class:`~core.data._read.Problem` values naming the rows and the fix; the
validator turns them into defects.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from core.data._read import MAX_LISTED, Problem, listed

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
OhlcPolicy = Literal["refuse", "warn"]


def _at(mask: np.ndarray, locations: list[str], dates: np.ndarray | None) -> tuple[list[str], str]:
    idx = np.flatnonzero(mask)
    where = [locations[i] for i in idx]
    if dates is None:
        return where, listed(where)
    shown = []
    for i in idx[:MAX_LISTED]:
        d = dates[i]
        shown.append(
            f"{locations[i]} ({pd.Timestamp(d).date()})" if not np.isnat(d) else locations[i]
        )
    more = len(idx) - MAX_LISTED
    return where, ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def value_rules(
    numeric: dict[str, np.ndarray],
    locations: list[str],
    dates: np.ndarray | None,
    ohlc: OhlcPolicy,
    warnings: list[str],
) -> list[Problem]:
    """Prices > 0, volume >= 0 and ``low <= open, close <= high``.

    OHLC inconsistencies are problems under ``ohlc="refuse"`` and appended to
    ``warnings`` under ``ohlc="warn"``.
    """
    out: list[Problem] = []
    with np.errstate(invalid="ignore"):
        for col in PRICE_COLUMNS:
            if col in numeric:
                mask = numeric[col] <= 0
                if mask.any():
                    where, shown = _at(mask, locations, dates)
                    out.append(
                        Problem(
                            "non_positive_prices",
                            f"column '{col}': {mask.sum()} zero or negative value(s) on "
                            f"{shown}; prices must be > 0: remove or correct those rows",
                            col,
                            where,
                        )
                    )
        if "volume" in numeric:
            mask = numeric["volume"] < 0
            if mask.any():
                where, shown = _at(mask, locations, dates)
                out.append(
                    Problem(
                        "negative_volume",
                        f"column 'volume': {mask.sum()} negative value(s) on {shown}; "
                        "volume must be >= 0",
                        "volume",
                        where,
                    )
                )
        rules: list[tuple[str, str, np.ndarray, str]] = []
        if {"high", "low"} <= set(numeric):
            rules.append(
                (
                    "high_below_low",
                    "high",
                    numeric["high"] < numeric["low"],
                    "high < low on {n} row(s) ({rows}); check for swapped high and low columns",
                )
            )
        for col in ("open", "close"):
            if col not in numeric:
                continue
            above = numeric[col] > numeric["high"] if "high" in numeric else None
            below = numeric[col] < numeric["low"] if "low" in numeric else None
            mask = np.zeros(len(numeric[col]), dtype=bool)
            for m in (above, below):
                if m is not None:
                    mask |= m
            span = (
                "[low, high]"
                if above is not None and below is not None
                else ("<= high" if above is not None else ">= low")
            )
            if above is not None or below is not None:
                rules.append(
                    (
                        f"{col}_outside_range",
                        col,
                        mask,
                        f"{col} is not within {span} on {{n}} row(s) ({{rows}}); check the "
                        "columns' order and that all prices share one adjustment",
                    )
                )
        for code, col, mask, text in rules:
            if mask.any():
                where, shown = _at(mask, locations, dates)
                message = text.format(n=int(mask.sum()), rows=shown)
                if ohlc == "refuse":
                    out.append(Problem(code, message, col, where))
                else:
                    warnings.append(f"{message} (kept as supplied by the source)")
    return out


def date_rules(
    dates: np.ndarray, bad: np.ndarray, locations: list[str], warnings: list[str]
) -> list[Problem]:
    """Unique timestamps (a problem otherwise); rows out of order are noted in ``warnings``."""
    out: list[Problem] = []
    valid = ~bad & ~np.isnat(dates)
    series = pd.Series(dates)
    dup_mask = series.duplicated(keep=False).to_numpy() & valid
    if dup_mask.any():
        dup_dates = sorted({str(pd.Timestamp(d)) for d in dates[dup_mask]})
        dup_dates = [d.removesuffix(" 00:00:00") for d in dup_dates]
        out.append(
            Problem(
                "duplicate_timestamps",
                f"{len(dup_dates)} timestamp(s) appear more than once ({listed(dup_dates)}, on "
                f"{listed([locations[i] for i in np.flatnonzero(dup_mask)])}); keep one row "
                "per timestamp",
                "date",
                [locations[i] for i in np.flatnonzero(dup_mask)],
            )
        )
    good = dates[valid]
    if len(good) > 1:
        steps = np.diff(good.astype("int64"))
        if (steps < 0).all():
            warnings.append("rows were in descending date order; they have been sorted ascending")
        elif (steps < 0).any():
            first = int(np.flatnonzero(steps < 0)[0])
            rows = np.flatnonzero(valid)
            i, j = rows[first], rows[first + 1]
            warnings.append(
                f"{int((steps < 0).sum())} row(s) were out of date order (first at "
                f"{locations[j]}: {pd.Timestamp(dates[j]).date()} after "
                f"{pd.Timestamp(dates[i]).date()} on {locations[i]}); they have been sorted "
                "ascending: check that the file holds a single series"
            )
    return out
