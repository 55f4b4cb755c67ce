"""Readiness of this process for the API's ``/readyz``: the database answers and its schema
stands at the migrations' head."""

from __future__ import annotations

from sqlalchemy import text

from app.services.db import get_engine
from core.store.db import VERSION_TABLE, script_heads


def not_ready_reason() -> str | None:
    """None when the database is reachable and migrated to head, else why not (one line,
    never the database URL)."""
    try:
        with get_engine().connect() as conn:
            found = frozenset(
                conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
            )
    except Exception as exc:  # any driver error: the reason is what /readyz reports
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return f"the database is not reachable or not migrated ({type(exc).__name__}: {first})"
    heads = script_heads()
    if heads is None:
        return "the migration scripts could not be read"
    if found != heads:
        return (
            f"the database schema is at {sorted(found) or 'no revision'}, not at the "
            f"migrations' head {sorted(heads)}; run `workbench setup`"
        )
    return None


__all__ = ["not_ready_reason"]
