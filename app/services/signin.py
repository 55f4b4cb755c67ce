"""Credentials kept in the database: sign-in throttling, browser sessions and tokens.

Every password attempt (web or CLI) is recorded and throttled (:mod:`core.auth.throttle`;
the clock is injectable, :func:`use_clock`). A signed-in browser gets a session token in the
URL's ``session`` query parameter (a reload keeps the user signed in; signing out revokes
it). Personal access tokens: :mod:`app.services.tokens`, :mod:`app.services.api_tokens`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services.auth import Actor, PermissionDenied, authenticate, users_and_roles
from app.services.db import get_engine
from core.auth import throttle
from core.auth.tokens import PAT_PREFIX, SESSION_PREFIX, is_signed, new_token, token_hash
from core.config import get_settings
from core.store.auth import AttemptRepository, AuditRepository, TokenRepository
from core.store.db import session_scope

_clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """The current time from the injectable clock."""
    return _clock()


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Use ``clock`` for throttling and expiry inside the block (tests)."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield
    finally:
        _clock = previous


class SignInThrottled(PermissionDenied):
    """Too many failed sign-ins: wait until :attr:`retry_at`."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


def sign_in(username: str, password: str, *, client: str) -> Actor:
    """Check a password against the configured users, with slow-down and lockout: raises
    :class:`SignInThrottled` while the user or client must wait (the password is not even
    checked), PermissionDenied on an unknown user or a wrong password (a failure)."""
    at = now()
    with session_scope(get_engine()) as session:
        wait = throttle.must_wait(AttemptRepository(session), username, client, at)
    if wait is not None:
        raise SignInThrottled(wait.message, wait.retry_at)
    users, _ = users_and_roles()
    try:
        actor = authenticate(username, password, users)
    except PermissionDenied:
        with session_scope(get_engine()) as session:
            throttle.record(AttemptRepository(session), username, client, ok=False, at=at)
        raise
    with session_scope(get_engine()) as session:
        throttle.record(AttemptRepository(session), username, client, ok=True, at=at)
    return actor


def _key() -> bytes:
    return get_settings().fernet_key(create=True) or b""


def issue_token(
    actor: Actor,
    *,
    kind: str,
    name: str,
    lifetime: timedelta,
    by: Actor | None = None,
    **grant: Any,
) -> tuple[int, str]:
    """Store a new token's hash for ``actor``; returns (id, token). ``kind``: ``"pat"`` or
    ``"session"``; ``grant``: an API token's ``roles``, ``rate_per_s``; ``by``: its maker."""
    token = new_token(PAT_PREFIX if kind == "pat" else SESSION_PREFIX, _key())
    at = now()
    with session_scope(get_engine()) as session:
        row = TokenRepository(session).add(
            kind=kind,
            username=actor.name,
            name=name,
            token_hash=token_hash(token),
            prefix=token[4:12],
            created_at=at,
            expires_at=at + lifetime,
            **grant,
        )
        if kind == "pat":
            more = {"user": actor.name, **grant} if by is not None else {}
            record_audit(session, by or actor, "token.create", f"token {row.id}", name=name, **more)
        return row.id, token


def actor_for(username: str, token_roles: str | None = None) -> Actor | None:
    """The user's roles as configured now (none once removed), narrowed to ``token_roles``."""
    users, oidc = users_and_roles()
    actor = Actor(username, users[username].roles) if username in users else oidc(username)
    narrow = frozenset(token_roles.split(",")) if token_roles else None
    return actor if actor is None or narrow is None else Actor(username, actor.roles & narrow)


def resolve_token(token: str, *, kind: str) -> Actor | None:
    """The user of a live, correctly signed token of ``kind``, with today's roles."""
    if not token or not is_signed(token, _key()):
        return None
    with session_scope(get_engine()) as session:
        row = TokenRepository(session).live(token_hash(token), kind=kind, now=now())
        found = None if row is None else (row.username, row.roles)
    return actor_for(*found) if found else None


def start_session(actor: Actor) -> str:
    """A browser session token for a signed-in user."""
    hours = get_settings().session_hours
    return issue_token(actor, kind="session", name="browser", lifetime=timedelta(hours=hours))[1]


def resume_session(token: str) -> Actor | None:
    """The user of a live session token, or None (unknown, forged, expired, revoked)."""
    return resolve_token(token, kind="session")


def end_session(token: str) -> None:
    """Revoke a browser session (sign-out)."""
    with session_scope(get_engine()) as session:
        if row := TokenRepository(session).live(token_hash(token), kind="session", now=now()):
            TokenRepository(session).revoke(row, now=now())


def record_audit(session: Any, actor: Actor, action: str, target: str, **details: Any) -> None:
    """Append one audit entry for ``actor`` in ``session``."""
    AuditRepository(session).record(
        actor=actor.name,
        roles=sorted(actor.roles),
        local_mode=actor.local_mode,
        action=action,
        target=target,
        details={**details, "via": actor.via} if actor.via else details,
    )
