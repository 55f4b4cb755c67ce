"""Alert channels, rules and history: rows and plain values (the specs live in core.alerts).

The store imports no engine package: :class:`AlertRepository` takes and returns table rows
and primitives; :mod:`core.alerts.stored` turns them into validated specs, and seals and
unseals the channel URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.store.models import AlertChannel, AlertEvent, AlertRule, utcnow


class AlertRepository:
    """Alert channels, rules and history over a caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self._s = session

    # ----- channels
    def channel_list(self) -> list[dict[str, Any]]:
        """Configured channels for display: name, masked URL, enabled (nothing decrypted)."""
        rows = self._s.scalars(select(AlertChannel).order_by(AlertChannel.name))
        return [{"name": r.name, "url": r.url, "enabled": r.enabled} for r in rows]

    def channel_row(self, name: str) -> AlertChannel | None:
        """One channel row (its URL still sealed), or None."""
        return self._s.scalar(select(AlertChannel).where(AlertChannel.name == name))

    def upsert_channel(
        self, name: str, *, url: str, url_ciphertext: str | None, enabled: bool
    ) -> None:
        """Create or replace a channel: ``url`` is the masked form shown to users,
        ``url_ciphertext`` the sealed URL (None only for the in-app pseudo-URL)."""
        row = self.channel_row(name)
        if row is None:
            row = AlertChannel(name=name)
            self._s.add(row)
        row.url, row.url_ciphertext, row.enabled = url, url_ciphertext, enabled
        self._s.flush()

    def set_channel_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable a channel; False if it does not exist."""
        row = self.channel_row(name)
        if row is None:
            return False
        row.enabled = enabled
        self._s.flush()
        return True

    def delete_channel(self, name: str) -> bool:
        """Remove a channel; False if it did not exist."""
        row = self.channel_row(name)
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    # ----- rules
    def rule_rows(self) -> list[AlertRule]:
        """Every rule row, by name."""
        return list(self._s.scalars(select(AlertRule).order_by(AlertRule.name)))

    def _rule_row(self, name: str) -> AlertRule | None:
        return self._s.scalar(select(AlertRule).where(AlertRule.name == name))

    def upsert_rule(
        self,
        name: str,
        *,
        kind: str,
        params: dict[str, Any],
        channels: list[str],
        severity: str,
        cooldown_s: int,
        enabled: bool,
    ) -> None:
        """Create or replace a rule."""
        row = self._rule_row(name)
        if row is None:
            row = AlertRule(name=name)
            self._s.add(row)
        row.kind, row.params, row.channels = kind, params, list(channels)
        row.severity, row.cooldown_s, row.enabled = severity, cooldown_s, enabled
        row.updated_at = utcnow()
        self._s.flush()

    def set_rule_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable a rule; False if it does not exist."""
        row = self._rule_row(name)
        if row is None:
            return False
        row.enabled = enabled
        row.updated_at = utcnow()
        self._s.flush()
        return True

    def delete_rule(self, name: str) -> bool:
        """Remove a rule; False if it did not exist."""
        row = self._rule_row(name)
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    # ----- history
    def last_sent(self, dedupe_key: str) -> datetime | None:
        """When an alert with this key was last delivered (not suppressed or failed)."""
        return self._s.scalar(
            select(AlertEvent.created_at)
            .where(AlertEvent.dedupe_key == dedupe_key, AlertEvent.status == "sent")
            .order_by(AlertEvent.id.desc())
            .limit(1)
        )

    def record_event(self, **fields: Any) -> AlertEvent:
        """Append to the history."""
        event = AlertEvent(**fields)
        self._s.add(event)
        self._s.flush()
        return event

    def history(self, limit: int = 200) -> list[AlertEvent]:
        """Newest first."""
        return list(self._s.scalars(select(AlertEvent).order_by(AlertEvent.id.desc()).limit(limit)))
