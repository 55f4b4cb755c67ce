"""Credentials kept in the database: sign-in throttling, browser sessions and CLI tokens.

* **Throttling**: every password attempt (web or CLI) is recorded. After 3 failures in a
  row for a user, or from a client, the next attempt must wait 1 s, then 2, 4, ... s;
  after 10 the user or client is locked out for 15 minutes. Failures older than 15
  minutes, or before a success, do not count. The clock is injectable (:func:`use_clock`).
* **Browser sessions**: a signed-in browser gets a session token (256 random bits plus an
  HMAC signature with the workbench secret key); only its SHA-256 is stored, with an
  expiry. It lives in the page URL's ``session`` query parameter, so a reload keeps the
  user signed in; signing out revokes it.
* **Personal access tokens** for the CLI: :mod:`app.services.tokens`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from app.services.auth import Actor, PermissionDenied, authenticate, users_and_roles
from app.services.db import get_engine
from core.config import get_settings
from core.store.auth import AttemptRepository, AuditRepository, TokenRepository
from core.store.db import session_scope

DELAY_AFTER = 3  # failures before the first slow-down
LOCK_AFTER = 10  # failures before the lockout
WINDOW = timedelta(minutes=15)  # failures older than this are forgotten; lockout length
PAT_PREFIX, SESSION_PREFIX = "wbt_", "wbs_"

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


def _wait_until(failures: list[datetime]) -> datetime | None:
    n = len(failures)
    if n >= LOCK_AFTER:
        return failures[-1] + WINDOW
    if n >= DELAY_AFTER:
        return failures[-1] + timedelta(seconds=2 ** (n - DELAY_AFTER))
    return None


def _check_throttle(repo: AttemptRepository, username: str, client: str, at: datetime) -> None:
    for field, value, who in (
        ("username", username, f"user {username}"),
        ("client", client, "this client"),
    ):
        failures = repo.failures_since_success(field=field, value=value, since=at - WINDOW)
        until = _wait_until(failures)
        if until is not None and until > at:
            what = "locked for 15 minutes" if len(failures) >= LOCK_AFTER else "slowed down"
            wait = (until - at).total_seconds()
            raise SignInThrottled(
                f"{len(failures)} failed sign-ins for {who}: {what}; try again at "
                f"{until:%H:%M:%S} UTC (in {wait:.0f} s)",
                until,
            )


def sign_in(username: str, password: str, *, client: str) -> Actor:
    """Check a password against the configured users, with slow-down and lockout.

    Raises
    ------
    SignInThrottled
        While the user or the client must wait (the password is not even checked).
    PermissionDenied
        On an unknown user or a wrong password (recorded as a failure).
    """
    at = now()
    with session_scope(get_engine()) as session:
        repo = AttemptRepository(session)
        _check_throttle(repo, username, client, at)
    users, _ = users_and_roles()
    try:
        actor = authenticate(username, password, users)
    except PermissionDenied:
        with session_scope(get_engine()) as session:
            AttemptRepository(session).record(username=username, client=client, ok=False, now=at)
        raise
    with session_scope(get_engine()) as session:
        repo = AttemptRepository(session)
        repo.record(username=username, client=client, ok=True, now=at)
        repo.prune(before=at - 4 * WINDOW)
    return actor


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _signature(raw: str) -> str:
    key = get_settings().fernet_key(create=True) or b""
    return hmac.new(key, raw.encode(), hashlib.sha256).hexdigest()[:32]


def _new_token(prefix: str) -> str:
    raw = prefix + secrets.token_urlsafe(32)
    return f"{raw}.{_signature(raw)}"


def _signed(token: str) -> bool:
    raw, _, sig = token.rpartition(".")
    return bool(raw) and hmac.compare_digest(sig, _signature(raw))


def issue_token(actor: Actor, *, kind: str, name: str, lifetime: timedelta) -> tuple[int, str]:
    """Store a new token's hash; returns (id, token). ``kind``: ``"pat"`` or ``"session"``."""
    token = _new_token(PAT_PREFIX if kind == "pat" else SESSION_PREFIX)
    at = now()
    with session_scope(get_engine()) as session:
        row = TokenRepository(session).add(
            kind=kind,
            username=actor.name,
            name=name,
            token_hash=_hash(token),
            prefix=token[4:12],
            created_at=at,
            expires_at=at + lifetime,
        )
        if kind == "pat":
            record_audit(session, actor, "token.create", f"token {row.id}", name=name)
        return row.id, token


def _actor_for(username: str) -> Actor | None:
    """The user's roles as configured now (a user removed from secrets has none)."""
    users, oidc = users_and_roles()
    if username in users:
        return Actor(username, frozenset(users[username]["roles"]))
    return oidc(username)


def resolve_token(token: str, *, kind: str) -> Actor | None:
    """The user of a live, correctly signed token of ``kind``, with today's roles."""
    if not token or not _signed(token):
        return None
    with session_scope(get_engine()) as session:
        row = TokenRepository(session).live(_hash(token), kind=kind, now=now())
        username = None if row is None else row.username
    return None if username is None else _actor_for(username)


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
        repo = TokenRepository(session)
        row = repo.live(_hash(token), kind="session", now=now())
        if row is not None:
            repo.revoke(row, now=now())


def aware_utc(value: datetime) -> datetime:
    """``value`` with UTC attached when the database returned it naive (SQLite)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_audit(session: Any, actor: Actor, action: str, target: str, **details: Any) -> None:
    """Append one audit entry for ``actor`` in ``session``."""
    AuditRepository(session).record(
        actor=actor.name,
        roles=sorted(actor.roles),
        local_mode=actor.local_mode,
        action=action,
        target=target,
        details=details,
    )
