"""API tokens: made by the operator or a user (``workbench tokens create``), resolved into
the Actor of a request.

A token grants its own roles (in signed-in mode never more than the user holds now: a user
removed from the secrets file gets 401) and its own request rate. Resolution is cached for
``api_token_cache_s`` seconds (a revoked token is refused within that time) and stamps
``last_used_at`` at most once a minute, so a request writes nothing. Times come from
:func:`app.services.signin.now` (injectable with ``use_clock``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.operations.auth import ApiTokenCreateRequest
from app.services.auth import Actor, PermissionDenied, auth_mode
from app.services.db import get_engine
from app.services.signin import actor_for, issue_token, now
from core.auth.roles import ROLES
from core.auth.tokens import aware_utc, is_signed, token_hash
from core.config import get_settings
from core.store.auth import TokenRepository
from core.store.db import session_scope

STAMP_EVERY = timedelta(minutes=1)
_CACHE_MAX = 10_000


@dataclass(frozen=True)
class NewApiToken:
    """A token just made: its id, user and roles, and the token itself (shown once)."""

    id: int
    user: str
    roles: str
    token: str


@dataclass(frozen=True)
class Grant:
    """What a live token grants: its actor (``via`` "api token N") and request rate."""

    actor: Actor
    token_id: int | None  # None: an OIDC bearer token (app.services.api_oidc)
    rate_per_s: float
    expires_at: datetime


def provision_token(request: ApiTokenCreateRequest, *, actor: Actor) -> NewApiToken:
    """Make a token for ``request.user``: in local mode the operator may make one for any
    user and roles; signed in, only for yourself and with roles you hold."""
    roles = frozenset(request.roles.split(","))
    if not actor.local_mode:
        if request.user != actor.name:
            raise PermissionDenied(
                f"signed in as {actor.name}, you may make tokens only for yourself, not for "
                f"{request.user} (an operator provisions other users in local mode)"
            )
        if extra := sorted(roles - actor.roles):
            raise PermissionDenied(
                f"a token can grant only roles you hold: {actor.name} does not hold {extra} "
                f"(holds {sorted(actor.roles) or 'none'})"
            )
    grant = {"roles": request.roles, "rate_per_s": request.rate_per_s}
    owner = Actor(request.user, roles)
    lifetime = timedelta(days=request.days)
    token_id, token = issue_token(
        owner, kind="pat", name=request.name, lifetime=lifetime, by=actor, **grant
    )
    return NewApiToken(token_id, request.user, request.roles, token)


@dataclass(frozen=True)
class _Entry:
    grant: Grant | None
    checked_at: datetime


_lock = threading.Lock()
_cache: dict[str, _Entry] = {}
_stamped: dict[str, datetime] = {}  # token hash -> last use written


def forget() -> None:
    """Drop every cached resolution of this process (after a revocation here)."""
    with _lock:
        _cache.clear()


def resolve(token: str) -> Grant | None:
    """The grant of a live, correctly signed token, or None (unknown, forged, expired,
    revoked, or its user removed)."""
    token, at = token.strip(), now()
    digest = token_hash(token)
    ttl = timedelta(seconds=get_settings().api_token_cache_s)
    with _lock:
        hit = _cache.get(digest)
    if hit is None or not hit.checked_at <= at < hit.checked_at + ttl:
        if not token or not is_signed(token, get_settings().fernet_key(create=True) or b""):
            return None
        hit = _Entry(_lookup(digest, at), at)
        with _lock:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[digest] = hit
    grant = hit.grant
    if grant is None or grant.token_id is None or grant.expires_at <= at:
        return None
    _stamp(digest, grant.token_id, at)
    return grant


def _lookup(digest: str, at: datetime) -> Grant | None:
    with session_scope(get_engine()) as session:
        row = TokenRepository(session).find(digest, kind="pat")
        if row is None or row.revoked_at is not None or aware_utc(row.expires_at) <= at:
            return None
        token_id, user, roles, rate = row.id, row.username, row.roles, row.rate_per_s
        expires, used = aware_utc(row.expires_at), row.last_used_at
    if auth_mode() == "local":
        person: Actor | None = Actor(user, frozenset(roles.split(",") if roles else ROLES))
    else:
        person = actor_for(user, roles)
    if person is None:
        return None
    with _lock:
        if used is not None:
            _stamped[digest] = max(_stamped.get(digest, aware_utc(used)), aware_utc(used))
    actor = Actor(person.name, person.roles, via=f"api token {token_id}")
    return Grant(actor, token_id, rate or get_settings().api_rate_per_s, expires)


def _stamp(digest: str, token_id: int, at: datetime) -> None:
    """Record the token's use in the database at most once per :data:`STAMP_EVERY`."""
    with _lock:
        last = _stamped.get(digest)
        if last is not None and at - last < STAMP_EVERY:
            return
        if len(_stamped) >= _CACHE_MAX:
            _stamped.clear()
        _stamped[digest] = at
    with session_scope(get_engine()) as session:
        TokenRepository(session).stamp(token_id, now=at)


__all__ = ["STAMP_EVERY", "Grant", "NewApiToken", "forget", "provision_token", "resolve"]
