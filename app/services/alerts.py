"""Alert services: rules and channels (validated, role-checked, audited), test sends, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.operations.alerts import (
    AlertLogRequest,
    AlertNameRequest,
    AlertTestRequest,
    ChannelRequest,
)
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


def _switch(kind: str, name: str, enabled: bool, actor: Actor) -> str:
    require(actor, "risk", f"enabling or disabling alert {kind}s")
    with _sessions() as session:
        switch = admin.set_rule_enabled if kind == "rule" else admin.set_channel_enabled
        switch(StoredAlerts(session), name, enabled)
        record_audit(session, actor, f"alerts.{kind}.{'enable' if enabled else 'disable'}", name)
    return name


def enable_rule(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Enable a rule (one that no longer validates cannot be); returns its name."""
    return _switch("rule", request.name, True, actor)


def disable_rule(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Disable a rule (kept, not evaluated); returns its name."""
    return _switch("rule", request.name, False, actor)


def delete_rule(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Remove a rule (its history stays); returns its name."""
    require(actor, "risk", "deleting alert rules")
    with _sessions() as session:
        admin.delete_rule(StoredAlerts(session), request.name)
        record_audit(session, actor, "alerts.rule.delete", request.name)
    return request.name


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


def enable_channel(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Enable a channel; returns its name."""
    return _switch("channel", request.name, True, actor)


def disable_channel(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Disable a channel (rules skip it and record why); returns its name."""
    return _switch("channel", request.name, False, actor)


def delete_channel(request: AlertNameRequest, *, actor: Actor = LOCAL) -> str:
    """Remove a channel that no rule uses (its encrypted URL goes with it); returns its name."""
    require(actor, "risk", "deleting alert channels")
    with _sessions() as session:
        admin.delete_channel(StoredAlerts(session), request.name)
        record_audit(session, actor, "alerts.channel.delete", request.name)
    return request.name


def send_test(request: AlertTestRequest, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Send a test notification through a channel (bypasses cooldown; recorded as "test"),
    after saving the channel when the request brings a URL (risk role)."""
    spec = request.spec()
    if spec is not None:
        save_channel(spec, actor=actor)
    require(actor, "trader", "sending a test alert")
    with _sessions() as session:
        at = datetime.now(UTC)
        stored = StoredAlerts(session)
        firing = admin.test_firing(stored, request.channel, sent_by=actor.name, at=at)
    (result,) = AlertDispatcher(_sessions).dispatch([firing])
    return result


def evaluate(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Evaluate every rule on ``snapshot`` and dispatch what fires."""
    firings = _evaluate(list_rules(), snapshot)
    return AlertDispatcher(_sessions).dispatch(firings, now=snapshot.ts) if firings else []


def history(request: AlertLogRequest | None = None) -> list[dict[str, Any]]:
    """Alert history, newest first (the in-app inbox)."""
    limit = (request or AlertLogRequest()).limit
    with _sessions() as session:
        return admin.event_rows(AlertRepository(session).history(limit))


def audit(request: AlertLogRequest | None = None) -> list[dict[str, Any]]:
    """Who changed which rule or channel, newest first."""
    limit = (request or AlertLogRequest()).limit
    with _sessions() as session:
        return admin.audit_rows(AuditRepository(session).list(limit=limit, prefix="alerts."))
