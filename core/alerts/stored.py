"""Alert rules and channels as specs, over the store's :class:`AlertRepository`.

The store keeps rows; this module validates them into :class:`AlertRuleSpec` and
:class:`ChannelSpec`, and seals (on save) and unseals (for delivery only) channel URLs.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, ValidationError
from sqlalchemy.orm import Session

from core.alerts.rules import AlertRuleSpec, ChannelSpec
from core.alerts.vault import seal, unseal
from core.store.alerts import AlertRepository
from core.store.models import AlertChannel


class StoredAlerts:
    """The configured rules and channels of one caller-owned Session."""

    def __init__(self, session: Session) -> None:
        self.repo = AlertRepository(session)

    def rules(self) -> list[AlertRuleSpec]:
        """Configured rules as specs. A stored rule that no longer validates (e.g. a
        drawdown threshold of 50 saved before thresholds were checked in their unit) is
        returned disabled, with the reason in its ``problem``."""
        out: list[AlertRuleSpec] = []
        for r in self.repo.rule_rows():
            fields: dict[str, Any] = {
                "name": r.name,
                "kind": r.kind,
                "threshold": r.params.get("threshold"),
                "metric": r.params.get("metric"),
                "channels": list(r.channels),
                "severity": r.severity,
                "cooldown_s": r.cooldown_s,
                "enabled": r.enabled,
            }
            try:
                out.append(AlertRuleSpec(**fields))
            except ValidationError as exc:
                problem = "; ".join(
                    str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()
                )
                fields.update(enabled=False, problem=problem)
                out.append(AlertRuleSpec.model_construct(**fields))
        return out

    def save_rule(self, spec: AlertRuleSpec) -> None:
        """Create or replace a rule."""
        self.repo.upsert_rule(
            spec.name,
            kind=spec.kind,
            params={"threshold": spec.threshold, "metric": spec.metric},
            channels=list(spec.channels),
            severity=spec.severity,
            cooldown_s=spec.cooldown_s,
            enabled=spec.enabled,
        )

    def channel(self, name: str) -> ChannelSpec | None:
        """One channel with its URL decrypted (for delivery only), or None."""
        row = self.repo.channel_row(name)
        return None if row is None else _channel_spec(row)

    def save_channel(self, spec: ChannelSpec) -> None:
        """Create or replace a channel; the URL is stored encrypted, with a masked copy."""
        url = spec.url.get_secret_value()
        masked, sealed = (url, None) if url == "in-app" else (spec.masked, seal(url))
        self.repo.upsert_channel(spec.name, url=masked, url_ciphertext=sealed, enabled=spec.enabled)


def _channel_spec(row: AlertChannel) -> ChannelSpec:
    if row.url_ciphertext is None:  # only the in-app pseudo-URL is ever stored so
        url = row.url
    else:
        url = unseal(row.url_ciphertext, what=f"the URL of channel {row.name}")
    return ChannelSpec.model_construct(name=row.name, url=SecretStr(url), enabled=row.enabled)
