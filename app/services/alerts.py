"""Alert services: rules and channels (validated, role-checked), test sends, history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.alerts import AlertDispatcher, AlertRuleSpec, ChannelSpec, Firing, Snapshot, mask_url
from core.alerts import evaluate_rules as _evaluate
from core.store.db import session_scope
from core.store.repositories import AlertRepository


def _sessions() -> Any:
    return session_scope(get_engine())


def list_rules() -> list[AlertRuleSpec]:
    """Configured rules."""
    with _sessions() as session:
        return AlertRepository(session).rules()


def list_channels() -> list[dict[str, Any]]:
    """Configured channels, URLs masked."""
    with _sessions() as session:
        return [
            {"name": c.name, "url": mask_url(c), "enabled": c.enabled}
            for c in AlertRepository(session).channels()
        ]


def save_rule(spec: AlertRuleSpec, *, actor: Actor = LOCAL) -> None:
    """Create or replace a rule; its channels must exist (or be in-app)."""
    require(actor, "risk", "editing alert rules")
    with _sessions() as session:
        repo = AlertRepository(session)
        known = {c.name for c in repo.channels()} | {"in-app"}
        missing = sorted(set(spec.channels) - known)
        if missing:
            raise ValueError(f"channels: {missing} do not exist; add them first or use in-app")
        repo.upsert_rule(spec)


def delete_rule(name: str, *, actor: Actor = LOCAL) -> None:
    """Remove a rule."""
    require(actor, "risk", "deleting alert rules")
    with _sessions() as session:
        if not AlertRepository(session).delete_rule(name):
            raise LookupError(f"no alert rule named {name!r}")


def save_channel(spec: ChannelSpec, *, actor: Actor = LOCAL) -> None:
    """Create or replace a channel."""
    require(actor, "risk", "editing alert channels")
    with _sessions() as session:
        AlertRepository(session).upsert_channel(spec)


def send_test(channel: str, *, actor: Actor = LOCAL) -> dict[str, Any]:
    """Send a test notification through one channel (bypasses cooldown, still recorded)."""
    require(actor, "trader", "sending a test alert")
    rule = AlertRuleSpec(
        name="test", kind="broker_disconnect", channels=[channel], severity="info", cooldown_s=0
    )
    firing = Firing(
        rule,
        f"[info] test alert from the workbench via {channel}",
        f"test:{channel}:{datetime.now(UTC).timestamp()}",
        None,
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
