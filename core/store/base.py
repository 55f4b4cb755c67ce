"""The declarative base of every table and the timestamp default.

Kept apart from :mod:`core.store.models` so that a command reading a few tables (e.g.
``workbench risk check``: paper sessions, accounts, positions, risk limits) maps only
those, not every model of the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    """Timezone-aware now, for timestamps."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


__all__ = ["Base", "utcnow"]
