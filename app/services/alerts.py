"""Alert services: rules and channels (validated, role-checked, audited), test sends, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from app.services.signin import record_audit
from core.alerts import AlertDispatcher, AlertRuleSpec, ChannelSpec, Firing, Snapshot
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


def save_rule(spec: AlertRuleSpec, *, actor: Actor = LOCAL) -> None:
    """Create or replace a rule; its channels must exist (or be in-app)."""
    require(actor, "risk", "editing alert rules")
    with _sessions() as session:
        stored = StoredAlerts(session)
        known = {c["name"] for c in stored.repo.channel_list()} | {"in-app"}
        missing = sorted(set(spec.channels) - known)
        if missing:
            raise ValueError(f"channels: {missing} do not exist; add them first or use in-app")
        stored.save_rule(spec)
        record_audit(session, actor, "alerts.rule.save", spec.name, rule=spec.model_dump())


def set_rule_enabled(name: str, enabled: bool, *, actor: Actor = LOCAL) -> None:
    """Enable or disable a rule (a rule that no longer validates cannot be enabled)."""
    require(actor, "risk", "enabling or disabling alert rules")
    with _sessions() as session:
        stored = StoredAlerts(session)
        rule = next((r for r in stored.rules() if r.name == name), None)
        if rule is None:
            raise LookupError(f"no alert rule named {name!r}; see `workbench alerts list`")
        if enabled and rule.problem:
            raise ValueError(f"rule {name} cannot be enabled: {rule.problem}; save it again")
        stored.repo.set_rule_enabled(name, enabled)
        record_audit(session, actor, f"alerts.rule.{'enable' if enabled else 'disable'}", name)


def delete_rule(name: str, *, actor: Actor = LOCAL) -> None:
    """Remove a rule (its history stays)."""
    require(actor, "risk", "deleting alert rules")
    with _sessions() as session:
        if not AlertRepository(session).delete_rule(name):
            raise LookupError(f"no alert rule named {name!r}; see `workbench alerts list`")
        record_audit(session, actor, "alerts.rule.delete", name)


def save_channel(spec: ChannelSpec, *, actor: Actor = LOCAL) -> None:
    """Create or replace a channel; its URL is stored encrypted, the audit keeps the mask."""
    require(actor, "risk", "editing alert channels")
    if spec.name == "in-app":
        raise ValueError("name: in-app is the built-in channel; choose another name")
    with _sessions() as session:
        StoredAlerts(session).save_channel(spec)
        record_audit(session, actor, "alerts.channel.save", spec.name, url=spec.masked)


def set_channel_enabled(name: str, enabled: bool, *, actor: Actor = LOCAL) -> None:
    """Enable or disable a channel."""
    require(actor, "risk", "enabling or disabling alert channels")
    with _sessions() as session:
        if not AlertRepository(session).set_channel_enabled(name, enabled):
            raise LookupError(f"no alert channel named {name!r}; see `workbench alerts list`")
        record_audit(session, actor, f"alerts.channel.{'enable' if enabled else 'disable'}", name)


def delete_channel(name: str, *, actor: Actor = LOCAL) -> None:
    """Remove a channel that no rule uses (its encrypted URL goes with it)."""
    require(actor, "risk", "deleting alert channels")
    with _sessions() as session:
        stored = StoredAlerts(session)
        users = [r.name for r in stored.rules() if name in r.channels]
        if users:
            raise ValueError(
                f"channel {name} is used by rule(s) {users}; delete them or save them "
                "with other channels first"
            )
        if not stored.repo.delete_channel(name):
            raise LookupError(f"no alert channel named {name!r}; see `workbench alerts list`")
        record_audit(session, actor, "alerts.channel.delete", name)


def send_test(channel: str, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Send a test notification through one channel (bypasses cooldown; recorded as "test")."""
    require(actor, "trader", "sending a test alert")
    if channel != "in-app" and channel not in {c["name"] for c in list_channels()}:
        raise LookupError(f"no alert channel named {channel!r}; add it first or use in-app")
    rule = AlertRuleSpec(
        name="test", kind="broker_disconnect", channels=[channel], severity="info", cooldown_s=0
    )
    firing = Firing(
        rule,
        f"[info] test alert from the workbench via {channel} (sent by {actor.name})",
        f"test:{channel}:{datetime.now(UTC).timestamp()}",
        None,
        event_kind="test",
    )
    (result,) = AlertDispatcher(_sessions).dispatch([firing])
    return result


def evaluate(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Evaluate every rule on ``snapshot`` and dispatch what fires."""
    firings = _evaluate(list_rules(), snapshot)
    return AlertDispatcher(_sessions).dispatch(firings, now=snapshot.ts) if firings else []


def history(limit: int = 200) -> list[dict[str, Any]]:
    """Alert history, newest first (the in-app inbox)."""
    with _sessions() as session:
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
            for e in AlertRepository(session).history(limit)
        ]


def audit(limit: int = 100) -> list[dict[str, Any]]:
    """Who changed which rule or channel, newest first."""
    with _sessions() as session:
        return [
            {
                "at": e.created_at.isoformat(),
                "actor": e.actor + (" (local mode)" if e.local_mode else ""),
                "action": e.action,
                "target": e.target,
            }
            for e in AuditRepository(session).list(limit=limit, prefix="alerts.")
        ]
