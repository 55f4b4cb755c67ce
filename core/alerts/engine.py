"""Dispatch firings with cooldown and deduplication, recording every one in the history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.alerts.channels import ChannelError, send
from core.alerts.rules import ChannelSpec, Firing
from core.alerts.stored import StoredAlerts
from core.config import SecretKeyError


class AlertDispatcher:
    """Send firings through their channels unless a same-key alert is cooling down.

    Parameters
    ----------
    session_factory : callable
        Context manager factory yielding a Session (one transaction per dispatch).
    sender : callable, optional
        Delivery function, :func:`core.alerts.channels.send` by default.
    """

    def __init__(
        self,
        session_factory: Callable[[], object],
        *,
        sender: Callable[..., None] = send,
    ) -> None:
        self._sessions = session_factory
        self._send = sender

    def dispatch(
        self, firings: list[Firing], *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Record and deliver each firing; returns one status dict per firing."""
        now = now or datetime.now(UTC)
        results = []
        with self._sessions() as session:  # type: ignore[attr-defined]
            assert isinstance(session, Session)
            stored = StoredAlerts(session)
            repo = stored.repo
            channels = {c["name"]: c for c in repo.channel_list()}
            for firing in firings:
                rule = firing.rule
                last = repo.last_sent(firing.dedupe_key)
                cooling = last is not None and _aware(last) > now - timedelta(
                    seconds=rule.cooldown_s
                )
                status, errors, sent_to = "sent", [], []
                if cooling:
                    status = "suppressed"
                else:
                    for name in rule.channels:
                        info = channels.get(name)
                        if info is None and name != "in-app":
                            errors.append(f"channel {name} is missing (deleted?)")
                            continue
                        if info is not None and not info["enabled"]:
                            errors.append(f"channel {name} is disabled")
                            continue
                        try:
                            spec = (
                                stored.channel(name)
                                if info is not None
                                else ChannelSpec(name="in-app", url="in-app")
                            )
                            assert spec is not None
                            self._send(
                                spec,
                                title=f"Workbench alert: {rule.name}",
                                body=firing.message,
                                severity=rule.severity,
                            )
                            sent_to.append(name)
                        except (ChannelError, SecretKeyError) as exc:
                            errors.append(str(exc))
                    if errors and not sent_to:
                        status = "failed"
                repo.record_event(
                    rule_name=rule.name,
                    kind=firing.event_kind or rule.kind,
                    severity=rule.severity,
                    message=firing.message,
                    dedupe_key=firing.dedupe_key,
                    status=status,
                    channels=sent_to,
                    payload={"value": firing.value, "errors": errors},
                    created_at=now,
                )
                results.append(
                    {
                        "rule": rule.name,
                        "status": status,
                        "channels": sent_to,
                        "errors": errors,
                        "message": firing.message,
                    }
                )
        return results


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
