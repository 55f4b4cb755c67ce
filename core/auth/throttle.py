"""Throttling of failed password sign-ins (web and CLI alike).

After 3 failures in a row for a user, or from a client, the next attempt must wait 1 s,
then 2, 4, ... s; after 10 the user or client is locked out for 15 minutes. Failures
older than 15 minutes, or before a success, do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.store.auth import AttemptRepository

DELAY_AFTER = 3
"""Failures before the first slow-down."""
LOCK_AFTER = 10
"""Failures before the lockout."""
WINDOW = timedelta(minutes=15)
"""Failures older than this are forgotten; also the lockout's length."""


@dataclass(frozen=True)
class Wait:
    """Why the next attempt must wait, and until when."""

    message: str
    retry_at: datetime


def wait_until(failures: Sequence[datetime]) -> datetime | None:
    """When the next attempt may run after ``failures`` (oldest first), or None.

    >>> t = datetime(2026, 1, 1, 9, 0)
    >>> wait_until([t] * 2) is None, wait_until([t] * 4) - t, wait_until([t] * 10) - t
    (True, datetime.timedelta(seconds=2), datetime.timedelta(seconds=900))
    """
    n = len(failures)
    if n >= LOCK_AFTER:
        return failures[-1] + WINDOW
    if n >= DELAY_AFTER:
        return failures[-1] + timedelta(seconds=2 ** (n - DELAY_AFTER))
    return None


def must_wait(repo: AttemptRepository, username: str, client: str, at: datetime) -> Wait | None:
    """Whether the user or the client must wait at ``at`` (the user is checked first)."""
    for field, value, who in (
        ("username", username, f"user {username}"),
        ("client", client, "this client"),
    ):
        failures = repo.failures_since_success(field=field, value=value, since=at - WINDOW)
        until = wait_until(failures)
        if until is not None and until > at:
            what = "locked for 15 minutes" if len(failures) >= LOCK_AFTER else "slowed down"
            wait = (until - at).total_seconds()
            return Wait(
                f"{len(failures)} failed sign-ins for {who}: {what}; try again at "
                f"{until:%H:%M:%S} UTC (in {wait:.0f} s)",
                until,
            )
    return None


def record(repo: AttemptRepository, username: str, client: str, *, ok: bool, at: datetime) -> None:
    """Record one attempt; a success also forgets attempts older than four windows."""
    repo.record(username=username, client=client, ok=ok, now=at)
    if ok:
        repo.prune(before=at - 4 * WINDOW)


__all__ = ["DELAY_AFTER", "LOCK_AFTER", "WINDOW", "Wait", "must_wait", "record", "wait_until"]
