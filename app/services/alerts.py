"""Alert services: rules and channels (validated, role-checked, audited), test sends, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.operations.alerts import ChannelRequest
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.signin import record_audit
from core.alerts import AlertDispatcher, AlertRuleSpec, ChannelSpec, Snapshot, admin
from core.alerts import evaluate_rules as _evaluate
from core.alerts.stored import StoredAlerts
from core.store.alerts import AlertRepository
from core.store.auth import AuditRepository
from core.store.db import session_scope


def _sessions() -> Any:
    return session_scope(get_engine())


def list_rules() -> list[AlertRuleSpec]:
    """Configured rules (a stored rule that no longer validates comes back disabled)."""
    with _sessions() as session:
        return StoredAlerts(session).rules()


def list_channels() -> list[dict[str, Any]]:
    """Configured channels, URLs masked (nothing is decrypted)."""
    with _sessions() as session:
        return AlertRepository(session).channel_list()


def save_rule(request: AlertRuleSpec, *, actor: Actor = LOCAL) -> AlertRuleSpec:
    """Create or replace a rule (``AlertRuleRequest`` or a spec); its channels must exist."""
    require(actor, "risk", "editing alert rules")
    with _sessions() as session:
        rule = admin.save_rule(StoredAlerts(session), request)
        record_audit(session, actor, "alerts.rule.save", rule.name, rule=rule.model_dump())
    return rule


def set_rule_enabled(name: str, enabled: bool, *, actor: Actor = LOCAL) -> None:
    """Enable or disable a rule (a rule that no longer validates cannot be enabled)."""
    require(actor, "risk", "enabling or disabling alert rules")
    with _sessions() as session:
        admin.set_rule_enabled(StoredAlerts(session), name, enabled)
        record_audit(session, actor, f"alerts.rule.{'enable' if enabled else 'disable'}", name)


def delete_rule(name: str, *, actor: Actor = LOCAL) -> None:
    """Remove a rule (its history stays)."""
    require(actor, "risk", "deleting alert rules")
    with _sessions() as session:
        admin.delete_rule(StoredAlerts(session), name)
        record_audit(session, actor, "alerts.rule.delete", name)


def save_channel(spec: ChannelSpec, *, actor: Actor = LOCAL) -> None:
    """Create or replace a channel; its URL is stored encrypted, the audit keeps the mask."""
    require(actor, "risk", "editing alert channels")
    with _sessions() as session:
        admin.save_channel(StoredAlerts(session), spec)
        record_audit(session, actor, "alerts.channel.save", spec.name, url=spec.masked)


def add_channel(request: ChannelRequest, *, actor: Actor = LOCAL) -> ChannelSpec:
    """Create or replace the channel of ``request``; returns it (its URL masked in views)."""
    require(actor, "risk", "editing alert channels")
    admin.check_channel_name(request.name)
    spec = request.spec()
    save_channel(spec, actor=actor)
    return spec


def set_channel_enabled(name: str, enabled: bool, *, actor: Actor = LOCAL) -> None:
    """Enable or disable a channel."""
    require(actor, "risk", "enabling or disabling alert channels")
    with _sessions() as session:
        admin.set_channel_enabled(StoredAlerts(session), name, enabled)
        record_audit(session, actor, f"alerts.channel.{'enable' if enabled else 'disable'}", name)


def delete_channel(name: str, *, actor: Actor = LOCAL) -> None:
    """Remove a channel that no rule uses (its encrypted URL goes with it)."""
    require(actor, "risk", "deleting alert channels")
    with _sessions() as session:
        admin.delete_channel(StoredAlerts(session), name)
        record_audit(session, actor, "alerts.channel.delete", name)


def send_test(channel: str, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Send a test notification through one channel (bypasses cooldown; recorded as "test")."""
    require(actor, "trader", "sending a test alert")
    with _sessions() as session:
        at = datetime.now(UTC)
        firing = admin.test_firing(StoredAlerts(session), channel, sent_by=actor.name, at=at)
    (result,) = AlertDispatcher(_sessions).dispatch([firing])
    return result


def evaluate(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Evaluate every rule on ``snapshot`` and dispatch what fires."""
    firings = _evaluate(list_rules(), snapshot)
    return AlertDispatcher(_sessions).dispatch(firings, now=snapshot.ts) if firings else []


def history(limit: int = 200) -> list[dict[str, Any]]:
    """Alert history, newest first (the in-app inbox)."""
    with _sessions() as session:
        return admin.event_rows(AlertRepository(session).history(limit))


def audit(limit: int = 100) -> list[dict[str, Any]]:
    """Who changed which rule or channel, newest first."""
    with _sessions() as session:
        return admin.audit_rows(AuditRepository(session).list(limit=limit, prefix="alerts."))
