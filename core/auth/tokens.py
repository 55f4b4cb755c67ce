"""Tokens: CLI personal access tokens (``wbt_``) and browser sessions (``wbs_``).

A token is 256 random bits plus an HMAC signature with the workbench's secret key; only
its SHA-256 is stored, with an expiry and a revocation time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from core.store.auth import AuthToken

PAT_PREFIX, SESSION_PREFIX = "wbt_", "wbs_"


def token_hash(token: str) -> str:
    """The SHA-256 stored for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def _signature(raw: str, key: bytes) -> str:
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:32]


def new_token(prefix: str, key: bytes) -> str:
    """A fresh signed token: ``prefix`` + 256 random bits + ``.`` + signature."""
    raw = prefix + secrets.token_urlsafe(32)
    return f"{raw}.{_signature(raw, key)}"


def is_signed(token: str, key: bytes) -> bool:
    """Whether ``token`` carries a valid signature for ``key`` (forgeries are refused
    before any database look-up).

    >>> key = b"k" * 32
    >>> is_signed(new_token(PAT_PREFIX, key), key), is_signed("wbt_x.00", key)
    (True, False)
    """
    raw, _, sig = token.rpartition(".")
    return bool(raw) and hmac.compare_digest(sig, _signature(raw, key))


def aware_utc(value: datetime) -> datetime:
    """``value`` with UTC attached when the database returned it naive (SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def token_rows(rows: Iterable[AuthToken], at: datetime) -> list[dict[str, Any]]:
    """Personal access tokens as shown to their owner (never the tokens themselves);
    ``roles`` None: the user's configured roles, ``rate_per_s`` None: the API default."""
    return [
        {
            "id": r.id,
            "user": r.username,
            "name": r.name,
            "roles": r.roles.split(",") if r.roles else None,
            "rate_per_s": r.rate_per_s,
            "prefix": f"{PAT_PREFIX}{r.prefix}…",
            "created_at": r.created_at.isoformat(),
            "expires_at": r.expires_at.isoformat(),
            "last_used_at": r.last_used_at.isoformat() if r.last_used_at else None,
            "status": "revoked"
            if r.revoked_at
            else ("expired" if aware_utc(r.expires_at) <= at else "active"),
        }
        for r in rows
    ]


__all__ = [
    "PAT_PREFIX",
    "SESSION_PREFIX",
    "aware_utc",
    "is_signed",
    "new_token",
    "token_hash",
    "token_rows",
]
