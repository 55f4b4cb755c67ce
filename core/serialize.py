"""Turning results into JSON-safe values (database JSON columns, CLI output)."""

from __future__ import annotations

import math
import sys
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None, numpy scalars as Python ones, timestamps
    as ISO dates, recursively through dicts, lists and tuples (tuples become lists).

    >>> import numpy as np
    >>> json_safe({"a": float("nan"), "b": [np.float64(1.5), (np.int64(2),)]})
    {'a': None, 'b': [1.5, [2]]}
    """
    # A numpy scalar or a pandas Timestamp exists only once numpy / pandas are imported:
    # look them up instead of importing them, so plain payloads stay cheap.
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if pd is not None and isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value
