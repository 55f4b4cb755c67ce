"""Alert operations: add, enable, disable or delete rules and channels; test a channel;
list the history and the audit of changes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from app.operations import Flag, Operation, register
from core.alerts import AlertRuleSpec, ChannelSpec
from core.alerts.rules import InputKind, Severity

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class AlertRuleRequest(AlertRuleSpec):
    """A rule to save: what to watch, its threshold (in the kind's unit), channels,
    severity and cooldown. It is validated as the rule itself."""

    name: str = Field(
        title="Name",
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Rule name (letters, digits, _ . -)",
    )
    kind: InputKind = Field(
        title="Kind",  # type: ignore[assignment]
        description="What to watch (see the Alerts page; model_metric_below and "
        "heartbeat_lost are the old names of model_metric and heartbeat)",
    )
    threshold: float | None = Field(
        title="Threshold",
        default=None,
        description="In the kind's unit: drawdown 0.10 = 10% (a fraction)",
    )
    metric: str | None = Field(
        title="Model metric",
        default=None,
        description="For model_metric: auc, hit_rate, brier, ece or <metric>_drop",
    )
    channels: list[str] = Field(
        title="Channels", default_factory=lambda: ["in-app"], description="Channel (repeatable)"
    )
    severity: Severity = Field(
        title="Severity", default="warning", description="info, warning or critical"
    )
    cooldown_s: int = Field(
        title="Cooldown (s)",
        default=900,
        ge=0,
        le=7 * 86400,
        description="Seconds between repeats (0-604800)",
    )


class ChannelRequest(BaseModel):
    """A channel to save: its name and apprise URL (stored encrypted)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(
        title="Name",
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Channel name (letters, digits, _ . -)",
    )
    url: SecretStr = Field(
        title="Apprise URL",
        description="Apprise URL; leave out to be asked (hidden) or pipe it on stdin",
    )
    disabled: bool = Field(title="Disabled", default=False, description="Save it disabled")

    def spec(self) -> ChannelSpec:
        """The channel (its URL checked by apprise)."""
        return ChannelSpec(name=self.name, url=self.url, enabled=not self.disabled)


class AlertNameRequest(BaseModel):
    """A rule or a channel, by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        title="Name", min_length=1, max_length=64, pattern=NAME_PATTERN, description="Its name"
    )


class AlertTestRequest(BaseModel):
    """The channel to send a test alert through, optionally added (or replaced) first."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    channel: str = Field(
        title="Channel",
        default="in-app",
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Channel name",
    )
    url: SecretStr | None = Field(
        title="Apprise URL",
        default=None,
        description="Add or replace the channel with this apprise URL first (risk role)",
    )

    @field_validator("url")
    @classmethod
    def _apprise(cls, url: SecretStr | None) -> SecretStr | None:
        """Checked by apprise now, before anyone is asked to sign in."""
        if url is None:
            return None
        try:
            return ChannelSpec(name="probe", url=url).url
        except ValidationError as exc:
            raise ValueError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None

    def spec(self) -> ChannelSpec | None:
        """The channel to save first, or None."""
        return None if self.url is None else ChannelSpec(name=self.channel, url=self.url)


class AlertLogRequest(BaseModel):
    """How many entries of the alert history (or of the audit) to list, newest first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(title="Rows", default=50, ge=1, le=10_000, description="Rows to list")


def rule_payload(rule: Any) -> dict[str, Any]:
    """The saved rule."""
    return dict(rule.model_dump())


def channel_payload(spec: Any) -> dict[str, Any]:
    """The saved channel, its URL masked."""
    return {"name": spec.name, "url": spec.masked, "enabled": spec.enabled}


def delivery_payload(result: dict[str, Any]) -> dict[str, Any]:
    """The delivery result: status, channels, errors and the message."""
    return dict(result)


def delivery_text(result: Any, payload: dict[str, Any]) -> str:
    """``sent: <message>`` (or ``failed: ...``), one line per delivery error."""
    errors = "".join(f"\n  error: {e}" for e in payload["errors"])
    return f"{payload['status']}: {payload['message']}{errors}"


def _history_text(rows: Any, payload: dict[str, Any]) -> str:
    return "\n".join(f"{r['at']} {r['status']:<10} {r['message']}" for r in payload["events"])


def _audit_text(rows: Any, payload: dict[str, Any]) -> str:
    return "\n".join(
        f"{r['at']} {r['actor']:<20} {r['action']:<24} {r['target']}" for r in payload["audit"]
    )


def _switch(kind: str, enabled: bool, summary: str) -> Operation:
    """The operation that enables or disables a rule or a channel by name."""
    verb = "enable" if enabled else "disable"
    return register(
        Operation(
            name=f"alerts {kind} {verb}",
            feature="alerts",
            summary=summary,
            request=AlertNameRequest,
            service=f"app.services.alerts:{verb}_{kind}",
            payload=lambda name: {kind: name, "enabled": enabled},
            text=lambda name, _p: f"{kind} {name} {verb}d",
            flags={"name": Flag(argument=True)},
            actor=True,
        )
    )


def _delete(kind: str, summary: str) -> Operation:
    """The operation that deletes a rule or a channel by name."""
    return register(
        Operation(
            name=f"alerts {kind} delete",
            feature="alerts",
            summary=summary,
            request=AlertNameRequest,
            service=f"app.services.alerts:delete_{kind}",
            payload=lambda name: {"deleted": name},
            text=lambda name, _p: f"{kind} {name} deleted",
            flags={"name": Flag(argument=True)},
            actor=True,
        )
    )


RULE_ADD = register(
    Operation(
        name="alerts rule add",
        feature="alerts",
        summary="Create or replace a rule (risk role); the threshold is checked in its unit.",
        request=AlertRuleRequest,
        service="app.services.alerts:save_rule",
        payload=rule_payload,
        text=lambda rule, payload: f"rule {rule.name} saved",
        flags={
            "name": Flag(argument=True),
            "channels": Flag(name="--channel"),
            "cooldown_s": Flag(name="--cooldown"),
            "enabled": Flag(hidden=True),
            "problem": Flag(hidden=True),
        },
        actor=True,
    )
)
CHANNEL_ADD = register(
    Operation(
        name="alerts channel add",
        feature="alerts",
        summary="Create or replace a channel (risk role); the URL is stored encrypted.",
        request=ChannelRequest,
        service="app.services.alerts:add_channel",
        payload=channel_payload,
        text=lambda spec, payload: f"channel {spec.name} saved: {spec.masked}",
        flags={"name": Flag(argument=True), "url": Flag(prompt="Apprise URL")},
        actor=True,
    )
)

RULE_ENABLE = _switch("rule", True, "Enable a rule (risk role).")
RULE_DISABLE = _switch("rule", False, "Disable a rule: kept, not evaluated (risk role).")
RULE_DELETE = _delete("rule", "Delete a rule; its history stays (risk role).")
CHANNEL_ENABLE = _switch("channel", True, "Enable a channel (risk role).")
CHANNEL_DISABLE = _switch(
    "channel", False, "Disable a channel: rules skip it and record why (risk role)."
)
CHANNEL_DELETE = _delete(
    "channel", "Delete a channel no rule uses; its encrypted URL goes with it (risk role)."
)
TEST = register(
    Operation(
        name="alerts test",
        feature="alerts",
        summary="Send a test alert through a channel (trader role); exit 1 if delivery failed.",
        request=AlertTestRequest,
        service="app.services.alerts:send_test",
        payload=delivery_payload,
        text=delivery_text,
        actor=True,
    )
)
HISTORY = register(
    Operation(
        name="alerts history",
        feature="alerts",
        summary="Alert history, newest first.",
        request=AlertLogRequest,
        service="app.services.alerts:history",
        payload=lambda rows: {"events": rows},
        text=_history_text,
    )
)
AUDIT = register(
    Operation(
        name="alerts audit",
        feature="alerts",
        summary="Who changed which rule or channel, newest first.",
        request=AlertLogRequest,
        service="app.services.alerts:audit",
        payload=lambda rows: {"audit": rows},
        text=_audit_text,
    )
)

__all__ = [
    "AUDIT",
    "CHANNEL_ADD",
    "CHANNEL_DELETE",
    "CHANNEL_DISABLE",
    "CHANNEL_ENABLE",
    "HISTORY",
    "RULE_ADD",
    "RULE_DELETE",
    "RULE_DISABLE",
    "RULE_ENABLE",
    "TEST",
    "AlertLogRequest",
    "AlertNameRequest",
    "AlertRuleRequest",
    "AlertTestRequest",
    "ChannelRequest",
    "channel_payload",
    "delivery_payload",
    "delivery_text",
    "rule_payload",
]
