"""Personal access tokens for the CLI, and the one place the CLI gets its actor.

A token (``workbench token create``) is shown once; only its SHA-256 is stored, with an
expiry (1 to 365 days) and a revocation time. See :func:`cli_actor` for the credentials
the CLI accepts when sign-in users are configured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.operations.auth import TokenCreateRequest, TokenRevokeRequest
from app.services.api_tokens import forget
from app.services.auth import Actor, PermissionDenied
from app.services.db import get_engine
from app.services.signin import issue_token, now, record_audit, resolve_token, sign_in
from core.auth.roles import parse_roles
from core.auth.tokens import token_rows
from core.store.auth import TokenRepository
from core.store.db import session_scope


@dataclass(frozen=True)
class NewToken:
    """A token just made: its id, its user, and the token itself (shown once)."""

    id: int
    user: str
    token: str


def create_token(request: TokenCreateRequest, *, actor: Actor) -> NewToken:
    """A personal access token for the CLI, for ``actor`` (signed in with a password)."""
    if actor.local_mode:
        raise ValueError("no sign-in users are configured (local mode): the CLI needs no token")
    lifetime = timedelta(days=request.days)
    token_id, token = issue_token(actor, kind="pat", name=request.name, lifetime=lifetime)
    return NewToken(token_id, actor.name, token)


def actor_from_token(token: str) -> Actor | None:
    """The user of a live personal access token, or None."""
    return resolve_token(token.strip(), kind="pat")


def list_tokens(actor: Actor, user: str | None = None) -> list[dict[str, Any]]:
    """Personal access tokens (never the tokens themselves): signed in, the actor's own;
    in local mode the operator's view of ``user``'s, or of everyone's."""
    if not actor.local_mode and user not in (None, actor.name):
        raise PermissionDenied(f"signed in as {actor.name}, you may list only your own tokens")
    username = user if actor.local_mode else actor.name
    with session_scope(get_engine()) as session:
        return token_rows(TokenRepository(session).list(username=username), now())


def revoke_token(request: TokenRevokeRequest, *, actor: Actor) -> int:
    """Revoke a token (signed in: one of yours; local mode: any); returns its id."""
    token_id = request.token_id
    with session_scope(get_engine()) as session:
        repo = TokenRepository(session)
        row = repo.get(token_id)
        mine = row is not None and (actor.local_mode or row.username == actor.name)
        if row is None or row.kind != "pat" or not mine:
            raise LookupError(f"you have no token with id {token_id}; see `workbench token list`")
        repo.revoke(row, now=now())
        record_audit(session, actor, "token.revoke", f"token {token_id}", user=row.username)
    forget()
    return token_id


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

    from app.services.auth import actor_from_env, auth_mode

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
