"""Alert operations: add (or replace) a rule, add (or replace) a channel."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.operations import Flag, Operation, register
from core.alerts import AlertRuleSpec, ChannelSpec
from core.alerts.rules import Kind, Severity

NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"


class AlertRuleRequest(AlertRuleSpec):
    """A rule to save: what to watch, its threshold (in the kind's unit), channels,
    severity and cooldown. It is validated as the rule itself."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Rule name (letters, digits, _ . -)",
    )
    kind: Kind = Field(description="What to watch (see the Alerts page)")
    threshold: float | None = Field(
        default=None, description="In the kind's unit: drawdown 0.10 = 10% (a fraction)"
    )
    metric: str | None = Field(default=None, description="For model_metric_below")
    channels: list[str] = Field(
        default_factory=lambda: ["in-app"], description="Channel (repeatable)"
    )
    severity: Severity = Field(default="warning", description="info, warning or critical")
    cooldown_s: int = Field(
        default=900, ge=0, le=7 * 86400, description="Seconds between repeats (0-604800)"
    )


class ChannelRequest(BaseModel):
    """A channel to save: its name and apprise URL (stored encrypted)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=NAME_PATTERN,
        description="Channel name (letters, digits, _ . -)",
    )
    url: SecretStr = Field(
        description="Apprise URL; leave out to be asked (hidden) or pipe it on stdin"
    )
    disabled: bool = Field(default=False, description="Save it disabled")

    def spec(self) -> ChannelSpec:
        """The channel (its URL checked by apprise)."""
        return ChannelSpec(name=self.name, url=self.url, enabled=not self.disabled)


def rule_payload(rule: Any) -> dict[str, Any]:
    """The saved rule."""
    return dict(rule.model_dump())


def channel_payload(spec: Any) -> dict[str, Any]:
    """The saved channel, its URL masked."""
    return {"name": spec.name, "url": spec.masked, "enabled": spec.enabled}


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

__all__ = [
    "CHANNEL_ADD",
    "RULE_ADD",
    "AlertRuleRequest",
    "ChannelRequest",
    "channel_payload",
    "rule_payload",
]
