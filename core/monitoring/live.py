"""The monitoring observers of a paper session (owner: the monitoring work of issue 13).

This first version has none; live model metrics, drift and data quality come next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine

from core.paper.observers import BarObserver


def monitor_observers(config: Mapping[str, Any], *, engine: Engine) -> list[BarObserver]:
    """The observers that watch the session's model, features and data."""
    return []


__all__ = ["monitor_observers"]
