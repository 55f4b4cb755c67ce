"""Sign-in state: hashed tokens (CLI personal access tokens, browser sessions), sign-in
attempts for throttling, and the audit log of who changed what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.store.base import Base, utcnow


class AuthToken(Base):
    """A token; only its SHA-256 is stored. ``kind`` is ``"pat"`` (CLI) or ``"session"``."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    username: Mapped[str] = mapped_column(String(128), index=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    roles: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Comma-separated roles the token grants; None: its user's configured roles."""
    rate_per_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """API requests per second; None: the setting ``api_rate_per_s``."""


class AuthAttempt(Base):
    """One sign-in attempt (web or CLI password), for slow-down and lockout."""

    __tablename__ = "auth_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    client: Mapped[str] = mapped_column(String(128), index=True)
    ok: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AuditEntry(Base):
    """Who did what: alert and token changes (risk limits and the registry keep their own)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    local_mode: Mapped[bool] = mapped_column(default=False)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class TokenRepository:
    """Hashed tokens: add, find a live one, list, revoke."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, **fields: Any) -> AuthToken:
        """Store a token row (the caller hashes the token)."""
        row = AuthToken(**fields)
        self._s.add(row)
        self._s.flush()
        return row

    def live(self, token_hash: str, *, kind: str, now: datetime) -> AuthToken | None:
        """The unexpired, unrevoked token with this hash, its last use stamped."""
        row = self.find(token_hash, kind=kind)
        if row is None or row.revoked_at is not None or _aware(row.expires_at) <= now:
            return None
        row.last_used_at = now
        self._s.flush()
        return row

    def find(self, token_hash: str, *, kind: str) -> AuthToken | None:
        """The token with this hash, live or not, without stamping its use."""
        return self._s.scalar(
            select(AuthToken).where(AuthToken.token_hash == token_hash, AuthToken.kind == kind)
        )

    def stamp(self, token_id: int, *, now: datetime) -> None:
        """Record a use of the token (callers do this at most once a minute)."""
        self._s.execute(update(AuthToken).where(AuthToken.id == token_id).values(last_used_at=now))

    def list(self, *, username: str | None = None, kind: str = "pat") -> list[AuthToken]:
        """Tokens of one kind (one user's, or everyone's), newest first."""
        query = select(AuthToken).where(AuthToken.kind == kind).order_by(AuthToken.id.desc())
        if username is not None:
            query = query.where(AuthToken.username == username)
        return list(self._s.scalars(query))

    def get(self, token_id: int) -> AuthToken | None:
        """One token by id."""
        return self._s.get(AuthToken, token_id)

    def revoke(self, row: AuthToken, *, now: datetime) -> None:
        """Mark a token revoked (kept for the audit)."""
        if row.revoked_at is None:
            row.revoked_at = now
            self._s.flush()


class AttemptRepository:
    """Sign-in attempts, counted per user and per client."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def record(self, *, username: str, client: str, ok: bool, now: datetime) -> None:
        """Append one attempt."""
        self._s.add(
            AuthAttempt(username=username[:128], client=client[:128], ok=ok, created_at=now)
        )
        self._s.flush()

    def failures_since_success(self, *, field: str, value: str, since: datetime) -> list[datetime]:
        """Times of failures for this user or client after ``since`` and after its last
        success, oldest first."""
        column = AuthAttempt.username if field == "username" else AuthAttempt.client
        last_ok = self._s.scalar(
            select(func.max(AuthAttempt.created_at)).where(column == value, AuthAttempt.ok)
        )
        start = max(since, _aware(last_ok)) if last_ok is not None else since
        rows = self._s.scalars(
            select(AuthAttempt.created_at)
            .where(column == value, AuthAttempt.ok.is_(False), AuthAttempt.created_at > start)
            .order_by(AuthAttempt.created_at)
        )
        return [_aware(t) for t in rows]

    def prune(self, *, before: datetime) -> None:
        """Forget attempts older than ``before``."""
        self._s.execute(delete(AuthAttempt).where(AuthAttempt.created_at < before))


class AuditRepository:
    """The audit log."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def record(
        self,
        *,
        actor: str,
        roles: list[str],
        local_mode: bool,
        action: str,
        target: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry."""
        row = AuditEntry(
            actor=actor,
            roles=sorted(roles),
            local_mode=local_mode,
            action=action,
            target=target,
            details=details or {},
        )
        self._s.add(row)
        self._s.flush()
        return row

    def list(self, *, limit: int = 200, prefix: str | None = None) -> list[AuditEntry]:
        """Newest first, optionally only actions starting with ``prefix``."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if prefix:
            query = query.where(AuditEntry.action.startswith(prefix))
        return list(self._s.scalars(query))
