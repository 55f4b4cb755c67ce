"""Turning results into JSON-safe values (database JSON columns, CLI output)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None, numpy scalars as Python ones, timestamps
    as ISO dates, recursively through dicts, lists and tuples (tuples become lists).

    >>> json_safe({"a": float("nan"), "b": [np.float64(1.5), (np.int64(2),)]})
    {'a': None, 'b': [1.5, [2]]}
    """
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value
