"""The rules of changing alert rules and channels, and the rows the history views show.

A rule may only name channels that exist (or the built-in ``in-app``); a stored rule that
no longer validates cannot be enabled until saved again; ``in-app`` cannot be replaced;
a channel that a rule uses cannot be deleted. Each function works inside the caller's
transaction (:class:`core.alerts.stored.StoredAlerts`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from core.alerts.channels import IN_APP
from core.alerts.rules import AlertRuleSpec, ChannelSpec, Firing
from core.alerts.stored import StoredAlerts
from core.store.auth import AuditEntry
from core.store.models import AlertEvent

LIST_HINT = "see `workbench alerts list`"


def save_rule(stored: StoredAlerts, spec: AlertRuleSpec) -> AlertRuleSpec:
    """Create or replace a rule; its channels must exist (or be in-app)."""
    known = {c["name"] for c in stored.repo.channel_list()} | {IN_APP}
    missing = sorted(set(spec.channels) - known)
    if missing:
        raise ValueError(f"channels: {missing} do not exist; add them first or use in-app")
    rule = AlertRuleSpec.model_validate(spec.model_dump(include=set(AlertRuleSpec.model_fields)))
    stored.save_rule(rule)
    return rule


def set_rule_enabled(stored: StoredAlerts, name: str, enabled: bool) -> None:
    """Enable or disable a rule (a rule that no longer validates cannot be enabled)."""
    rule = next((r for r in stored.rules() if r.name == name), None)
    if rule is None:
        raise LookupError(f"no alert rule named {name!r}; {LIST_HINT}")
    if enabled and rule.problem:
        raise ValueError(f"rule {name} cannot be enabled: {rule.problem}; save it again")
    stored.repo.set_rule_enabled(name, enabled)


def delete_rule(stored: StoredAlerts, name: str) -> None:
    """Remove a rule (its history stays)."""
    if not stored.repo.delete_rule(name):
        raise LookupError(f"no alert rule named {name!r}; {LIST_HINT}")


def check_channel_name(name: str) -> None:
    """Refuse the name of the built-in channel."""
    if name == IN_APP:
        raise ValueError("name: in-app is the built-in channel; choose another name")


def save_channel(stored: StoredAlerts, spec: ChannelSpec) -> None:
    """Create or replace a channel; its URL is stored encrypted."""
    check_channel_name(spec.name)
    stored.save_channel(spec)


def set_channel_enabled(stored: StoredAlerts, name: str, enabled: bool) -> None:
    """Enable or disable a channel."""
    if not stored.repo.set_channel_enabled(name, enabled):
        raise LookupError(f"no alert channel named {name!r}; {LIST_HINT}")


def delete_channel(stored: StoredAlerts, name: str) -> None:
    """Remove a channel that no rule uses (its encrypted URL goes with it)."""
    users = [r.name for r in stored.rules() if name in r.channels]
    if users:
        raise ValueError(
            f"channel {name} is used by rule(s) {users}; delete them or save them "
            "with other channels first"
        )
    if not stored.repo.delete_channel(name):
        raise LookupError(f"no alert channel named {name!r}; {LIST_HINT}")


def test_firing(stored: StoredAlerts, channel: str, *, sent_by: str, at: datetime) -> Firing:
    """A test notification through ``channel`` (no cooldown; recorded as kind ``test``)."""
    if channel != IN_APP and channel not in {c["name"] for c in stored.repo.channel_list()}:
        raise LookupError(f"no alert channel named {channel!r}; add it first or use in-app")
    rule = AlertRuleSpec(
        name="test", kind="broker_disconnect", channels=[channel], severity="info", cooldown_s=0
    )
    return Firing(
        rule,
        f"[info] test alert from the workbench via {channel} (sent by {sent_by})",
        f"test:{channel}:{at.timestamp()}",
        None,
        event_kind="test",
    )


def event_rows(events: Iterable[AlertEvent]) -> list[dict[str, Any]]:
    """Alert history rows (the in-app inbox)."""
    return [
        {
            "id": e.id,
            "at": e.created_at.isoformat(),
            "rule": e.rule_name,
            "kind": e.kind,
            "severity": e.severity,
            "status": e.status,
            "message": e.message,
            "channels": list(e.channels),
            "errors": (e.payload or {}).get("errors", []),
        }
        for e in events
    ]


def audit_rows(entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    """Who changed which rule or channel."""
    return [
        {
            "at": e.created_at.isoformat(),
            "actor": e.actor + (" (local mode)" if e.local_mode else ""),
            "action": e.action,
            "target": e.target,
        }
        for e in entries
    ]


__all__ = [
    "audit_rows",
    "check_channel_name",
    "delete_channel",
    "delete_rule",
    "event_rows",
    "save_channel",
    "save_rule",
    "set_channel_enabled",
    "set_rule_enabled",
    "test_firing",
]
