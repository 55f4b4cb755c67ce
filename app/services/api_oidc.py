"""OIDC bearer tokens for the API, optional: accepted when the secrets file configures

.. code-block:: toml

    [workbench.oidc]
    issuer = "https://login.example.com/"      # the tokens' iss, exactly
    audience = "workbench-api"                  # their aud (optional: any audience)
    jwks_url = "https://login.example.com/.well-known/jwks.json"   # or jwks_file = "..."
    user_claim = "email"                        # the claim naming the user (default email)

The token must be a JWT signed RS256 by a key of the provider's JWKS (fetched at most every
10 minutes; a file is read each time), from that issuer, for that audience, and not
expired (:mod:`core.auth.jwt`). The user's roles come from ``[workbench.oidc_roles]``, as
for the pages' OIDC sign-in; the audit names the user ``via`` "oidc token".
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.services.api_tokens import Grant
from app.services.auth import Actor, secrets_table
from app.services.signin import now
from core.auth.jwt import LEEWAY_S, JwtError, verify
from core.auth.roles import oidc_roles
from core.config import get_settings

JWKS_TTL_S = 600.0
_lock = threading.Lock()
_fetched: dict[str, tuple[float, dict[str, Any]]] = {}  # jwks_url -> (monotonic time, JWKS)


def oidc_config(table: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The ``[workbench.oidc]`` table, or None when OIDC bearer tokens are off."""
    table = secrets_table() if table is None else table
    config = (table.get("workbench") or {}).get("oidc")
    return dict(config) if isinstance(config, dict) and config.get("issuer") else None


def _jwks(config: dict[str, Any]) -> dict[str, Any]:
    if config.get("jwks_file"):
        return dict(json.loads(Path(str(config["jwks_file"])).read_text()))
    url = str(config["jwks_url"])
    with _lock:
        cached = _fetched.get(url)
    if cached is not None and time.monotonic() - cached[0] < JWKS_TTL_S:
        return cached[1]
    jwks = dict(httpx.get(url, timeout=5.0).raise_for_status().json())
    with _lock:
        _fetched[url] = (time.monotonic(), jwks)
    return jwks


def resolve_oidc(token: str) -> Grant | None:
    """The grant of a valid OIDC access token, or None (OIDC off, or the token invalid)."""
    table = secrets_table()
    config = oidc_config(table)
    if config is None:
        return None
    try:
        claims = verify(
            token.strip(),
            _jwks(config),
            issuer=str(config["issuer"]),
            audience=config.get("audience"),
            now=now().timestamp(),
        )
    except (JwtError, OSError, KeyError, ValueError, httpx.HTTPError):
        return None  # the 401 says what to do
    user = claims.get(str(config.get("user_claim", "email")))
    if not isinstance(user, str) or not user.strip():
        return None
    actor = Actor(user, oidc_roles(user, table), via="oidc token")
    expires = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(seconds=LEEWAY_S)
    return Grant(actor, None, get_settings().api_rate_per_s, expires)


__all__ = ["JWKS_TTL_S", "oidc_config", "resolve_oidc"]
