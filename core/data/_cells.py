"""Shared pieces of the cell parsers: missing and infinite tokens, text of cells, and the
locations and samples named in messages."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "nan", "na", "n/a", "null", "none", "#n/a", "-", "--", "nat"}
)
INF_TOKENS: frozenset[str] = frozenset(
    {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "#num!", "#div/0!"}
)


def locations_of(mask: np.ndarray, locations: list[str]) -> list[str]:
    """The locations (line or row labels) of the cells flagged in ``mask``."""
    return [locations[i] for i in np.flatnonzero(mask)]


def samples(cells: pd.Series, mask: np.ndarray, locations: list[str], n: int = 3) -> str:
    """The first ``n`` flagged cells with their locations, for a message."""
    idx = np.flatnonzero(mask)[:n]
    return ", ".join(f"{locations[i]}: {str(cells.iloc[i])[:40]!r}" for i in idx)


def as_text(cells: pd.Series) -> pd.Series:
    """Cells as stripped strings (``None`` for missing); non-strings are formatted."""

    def one(v: object) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT or v is pd.NA:
            return None
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace").strip()
        if isinstance(v, pd.Timestamp | datetime):
            return v.isoformat()
        return str(v).strip()

    if pd.api.types.infer_dtype(cells, skipna=False) == "string":  # every CSV cell
        return pd.Series(cells.to_numpy(dtype=object), dtype=object).str.strip()
    return pd.Series([one(v) for v in cells.tolist()], dtype=object)
