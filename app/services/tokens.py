"""Personal access tokens for the CLI, and the one place the CLI gets its actor.

A token (``workbench token create``) is shown once; only its SHA-256 is stored, with an
expiry (1 to 365 days) and a revocation time. See :func:`cli_actor` for the credentials
the CLI accepts when sign-in users are configured.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.services.auth import Actor, PermissionDenied
from app.services.db import get_engine
from app.services.signin import (
    PAT_PREFIX,
    aware_utc,
    issue_token,
    now,
    record_audit,
    resolve_token,
    sign_in,
)
from core.store.auth import TokenRepository
from core.store.db import session_scope


def create_token(actor: Actor, *, name: str, days: int = 90) -> tuple[int, str]:
    """A personal access token for the CLI; returns (id, token). The token is shown once."""
    if actor.local_mode:
        raise ValueError("no sign-in users are configured (local mode): the CLI needs no token")
    if not 1 <= days <= 365:
        raise ValueError(f"--days: a token lives 1 to 365 days; got {days}")
    if not name.strip() or len(name) > 64:
        raise ValueError("--name: give the token a name of 1 to 64 characters, e.g. laptop")
    return issue_token(actor, kind="pat", name=name.strip(), lifetime=timedelta(days=days))


def actor_from_token(token: str) -> Actor | None:
    """The user of a live personal access token, or None."""
    return resolve_token(token.strip(), kind="pat")


def list_tokens(actor: Actor) -> list[dict[str, Any]]:
    """The actor's personal access tokens (never the tokens themselves)."""
    with session_scope(get_engine()) as session:
        rows = TokenRepository(session).list(username=actor.name)
        at = now()
        return [
            {
                "id": r.id,
                "name": r.name,
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


def revoke_token(actor: Actor, token_id: int) -> None:
    """Revoke one of the actor's tokens."""
    with session_scope(get_engine()) as session:
        repo = TokenRepository(session)
        row = repo.get(token_id)
        if row is None or row.kind != "pat" or row.username != actor.name:
            raise LookupError(f"you have no token with id {token_id}; see `workbench token list`")
        repo.revoke(row, now=now())
        record_audit(session, actor, "token.revoke", f"token {token_id}")


def cli_client() -> str:
    """The client id of CLI sign-ins on this machine (for per-client throttling)."""
    import socket

    return f"cli@{socket.gethostname()}"[:128]


def cli_actor(
    env: dict[str, str] | None = None, *, prompt: Callable[[str], str] | None = None
) -> Actor:
    """The one place the CLI gets its actor.

    Local mode (no users in the secrets file): the local user with every role, or the
    user that ``WORKBENCH_USER``/``WORKBENCH_ROLES`` name, as before. With users
    configured, credentials are required and roles come from the secrets file:

    1. ``WORKBENCH_TOKEN``: a personal access token (``workbench token create``);
    2. else ``WORKBENCH_USER`` and a password: ``WORKBENCH_PASSWORD`` (scripts) or, on a
       terminal, a prompt. Password attempts are throttled like the web sign-in.

    ``WORKBENCH_ROLES`` may then only narrow the user's roles, never add one.

    Raises
    ------
    PermissionDenied
        Missing or wrong credentials, a lockout, or roles the user does not hold.
    """
    import os

    from app.services.auth import actor_from_env, auth_mode, parse_roles

    env = dict(os.environ) if env is None else env
    if auth_mode() == "local":
        return actor_from_env()
    token = env.get("WORKBENCH_TOKEN", "").strip()
    if token:
        actor = actor_from_token(token)
        if actor is None:
            raise PermissionDenied(
                "WORKBENCH_TOKEN is not a valid token (unknown, expired, revoked, or its user "
                "was removed); make a new one with `workbench token create`"
            )
    else:
        actor = password_actor(env, prompt=prompt)
    requested = env.get("WORKBENCH_ROLES", "").strip()
    if requested:
        roles = parse_roles(requested)
        extra = sorted(roles - actor.roles)
        if extra:
            raise PermissionDenied(
                f"WORKBENCH_ROLES asks for {extra}, which {actor.name} does not hold "
                f"(roles come from the secrets file: {sorted(actor.roles)})"
            )
        actor = Actor(actor.name, roles)
    return actor


def password_actor(env: dict[str, str], *, prompt: Callable[[str], str] | None = None) -> Actor:
    """Sign in with ``WORKBENCH_USER`` and ``WORKBENCH_PASSWORD`` or a password prompt."""
    username = env.get("WORKBENCH_USER", "").strip()
    if not username:
        raise PermissionDenied(
            "sign-in users are configured: set WORKBENCH_TOKEN (make one with "
            "`workbench token create`), or WORKBENCH_USER and enter the password "
            "(WORKBENCH_PASSWORD for scripts)"
        )
    password = env.get("WORKBENCH_PASSWORD")
    if password is None:
        if prompt is None:
            raise PermissionDenied(
                f"no password for {username}: run on a terminal to be asked, or set "
                "WORKBENCH_PASSWORD, or use WORKBENCH_TOKEN"
            )
        password = prompt(f"Password for {username}: ")
    return sign_in(username, password, client=cli_client())
