"""Number cells to float64, refusing every cell whose meaning is not certain.

Numbers are plain decimals with the declared separators; a ',' in a number with the
default format is refused (decimal comma or thousands separator: the user says which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.data._cells import INF_TOKENS, MISSING_TOKENS, as_text, locations_of, samples
from core.data._read import Problem, listed
from core.data.formats import ReadFormat


@dataclass
class ParsedNumbers:
    """float64 values (NaN where refused or missing) and the defects found."""

    values: np.ndarray
    bad: np.ndarray  # bool: refused, missing or infinite
    problems: list[Problem] = field(default_factory=list)


def _number_pattern(fmt: ReadFormat) -> re.Pattern[str]:
    d = re.escape(fmt.decimal)
    exp = r"(?:[eE][+-]?\d+)?"
    if fmt.thousands:
        t = re.escape(fmt.thousands)
        grouped = rf"^[+-]?(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d*)?{exp}$"
        return re.compile(rf"{grouped}|^[+-]?{d}\d+{exp}$")
    return re.compile(rf"^[+-]?(?:\d+(?:{d}\d*)?|{d}\d+){exp}$")


def parse_numbers(
    cells: pd.Series, column: str, locations: list[str], fmt: ReadFormat
) -> ParsedNumbers:
    """Parse a numeric column; every refused, missing or infinite cell is named."""
    n = len(cells)
    problems: list[Problem] = []
    if pd.api.types.is_bool_dtype(cells.dtype):
        bad = np.ones(n, dtype=bool)
        problems.append(
            Problem(
                "non_numeric",
                f"column '{column}' holds true/false values, not numbers; use numbers",
                column,
                locations_of(bad, locations),
            )
        )
        return ParsedNumbers(np.full(n, np.nan), bad, problems)
    if pd.api.types.is_numeric_dtype(cells.dtype):
        values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        refused = np.zeros(n, dtype=bool)
    else:
        text = as_text(cells)
        lower = text.fillna("").str.lower()
        missing = text.isna().to_numpy() | lower.isin(MISSING_TOKENS).to_numpy()
        infinite_token = lower.isin(INF_TOKENS).to_numpy()
        pattern = _number_pattern(fmt)
        filled = text.fillna("")
        plain = filled.str.match(pattern).to_numpy(dtype=bool) & ~missing
        normal = filled.where(plain, "")
        if fmt.thousands:
            normal = normal.str.replace(fmt.thousands, "", regex=False)
        if fmt.decimal != ".":
            normal = normal.str.replace(fmt.decimal, ".", regex=False)
        values = np.array(
            pd.to_numeric(normal.where(plain, None), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
        )
        values[infinite_token] = np.inf
        refused = ~(plain | missing | infinite_token)
        if refused.any():
            problems.extend(_refused_numbers(filled, column, refused, locations, fmt))
    infinite = np.isinf(values)
    if missing.any():
        where = locations_of(missing, locations)
        problems.append(
            Problem(
                "missing_values",
                f"column '{column}': {missing.sum()} empty or NaN value(s) ({listed(where)}); "
                "fill or drop those rows",
                column,
                where,
            )
        )
    if infinite.any():
        where = locations_of(infinite, locations)
        problems.append(
            Problem(
                "infinite_values",
                f"column '{column}': {infinite.sum()} infinite value(s) ({listed(where)}); "
                "replace them with real numbers",
                column,
                where,
            )
        )
    bad = missing | refused | infinite
    values = np.where(bad, np.nan, values)
    return ParsedNumbers(values, bad, problems)


def _refused_numbers(
    text: pd.Series, column: str, mask: np.ndarray, locations: list[str], fmt: ReadFormat
) -> list[Problem]:
    out: list[Problem] = []
    refused = text[mask]
    other = "," if fmt.decimal == "." else "."
    seps = {",", ".", " ", "'"} - {fmt.decimal}
    has_sep = refused.map(
        lambda v: (
            any(s in v for s in seps if s != fmt.thousands)
            or (bool(fmt.thousands) and fmt.thousands in v)
        )
    ).to_numpy(dtype=bool)
    looks_numeric = refused.str.fullmatch(r"[+-]?[\d.,' ]*\d[\d.,' ]*(?:[eE][+-]?\d+)?").to_numpy(
        dtype=bool
    )
    sep_mask = np.zeros(len(text), dtype=bool)
    sep_mask[np.flatnonzero(mask)[has_sep & looks_numeric]] = True
    if sep_mask.any():
        where = locations_of(sep_mask, locations)
        sample = text[sep_mask].iloc[0]
        if fmt.decimal == "." and not fmt.thousands:
            if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+\.\d*", sample):
                advice = "declare --thousands , (',' groups thousands, '.' is the decimal)"
            elif re.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})+,\d*", sample):
                advice = "declare --decimal , --thousands . (European format)"
            else:
                advice = (
                    "declare --decimal , if ',' is the decimal separator, or --thousands , "
                    "if it groups thousands"
                )
        else:
            advice = (
                f"the declared format is decimal {fmt.decimal!r}"
                + (
                    f", thousands {fmt.thousands!r}"
                    if fmt.thousands
                    else ", no thousands separator"
                )
                + "; fix those values or declare the right --decimal / --thousands"
                + (f" (e.g. --thousands {other})" if not fmt.thousands else "")
            )
        out.append(
            Problem(
                "ambiguous_number_format",
                f"column '{column}': {sep_mask.sum()} value(s) contain separators that do not "
                f"fit the declared number format ({samples(text, sep_mask, locations)}); "
                f"{advice}",
                column,
                where,
            )
        )
    rest = mask & ~sep_mask
    if rest.any():
        where = locations_of(rest, locations)
        symbols = text[rest].str.contains(r"[$€£¥%]", regex=True).any()
        hint = "; remove currency symbols and % signs" if symbols else ""
        out.append(
            Problem(
                "non_numeric",
                f"column '{column}': {rest.sum()} non-numeric value(s) "
                f"({samples(text, rest, locations)}); use plain numbers such as 101.25{hint}",
                column,
                where,
            )
        )
    return out
