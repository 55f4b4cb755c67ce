"""Alert rules, notification channels (apprise), cooldown and deduplication, history."""

from core.alerts.channels import IN_APP, ChannelError, mask_url, send
from core.alerts.engine import AlertDispatcher
from core.alerts.rules import KINDS, AlertRuleSpec, ChannelSpec, Firing, Snapshot, evaluate_rules

__all__ = [
    "IN_APP",
    "KINDS",
    "AlertDispatcher",
    "AlertRuleSpec",
    "ChannelError",
    "ChannelSpec",
    "Firing",
    "Snapshot",
    "evaluate_rules",
    "mask_url",
    "send",
]
