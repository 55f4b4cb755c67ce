"""Alert rules, notification channels (apprise), cooldown and deduplication, history.

Names are imported from their submodule on first access (:mod:`core._lazy`).
"""

from typing import TYPE_CHECKING

from core._lazy import attach

if TYPE_CHECKING:
    from core.alerts.channels import IN_APP, ChannelError, mask_url, send
    from core.alerts.engine import AlertDispatcher
    from core.alerts.rules import (
        KINDS,
        AlertRuleSpec,
        ChannelSpec,
        Firing,
        Snapshot,
        evaluate_rules,
    )

__getattr__, __dir__ = attach(
    __name__,
    {
        "channels": ["IN_APP", "ChannelError", "mask_url", "send"],
        "engine": ["AlertDispatcher"],
        "rules": ["KINDS", "AlertRuleSpec", "ChannelSpec", "Firing", "Snapshot", "evaluate_rules"],
    },
)

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
