"""Repositories: typed queries over a caller-owned Session (services own transactions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.alerts.rules import AlertRuleSpec, ChannelSpec
from core.store.models import AlertChannel, AlertEvent, AlertRule, ImportedDataset, Run, utcnow


class DatasetRepository:
    """Imported dataset metadata."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, record: ImportedDataset) -> ImportedDataset:
        """Stage a new record (flushed so constraint errors surface now)."""
        self._s.add(record)
        self._s.flush()
        return record

    def get(self, name: str) -> ImportedDataset | None:
        """Look one up by name."""
        return self._s.scalar(select(ImportedDataset).where(ImportedDataset.name == name))

    def list(self) -> list[ImportedDataset]:
        """All records, by name."""
        return list(self._s.scalars(select(ImportedDataset).order_by(ImportedDataset.name)))


class RunRepository:
    """Generic run records."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def start(self, *, kind: str, spec: dict[str, Any], title: str = "") -> Run:
        """Record a run as running."""
        run = Run(kind=kind, spec=spec, title=title, metrics={}, status="running")
        self._s.add(run)
        self._s.flush()
        return run

    def finish(
        self,
        run_id: int,
        *,
        metrics: dict[str, Any],
        artifact_path: str | None = None,
        status: str = "done",
        error: str | None = None,
    ) -> Run:
        """Mark a run finished with its metrics."""
        run = self._s.get_one(Run, run_id)
        run.metrics = metrics
        run.status = status
        run.error = error
        run.artifact_path = artifact_path
        run.finished_at = utcnow()
        self._s.flush()
        return run

    def get(self, run_id: int) -> Run | None:
        """One run by id."""
        return self._s.get(Run, run_id)

    def list(self, *, kind: str | None = None, limit: int = 100) -> list[Run]:
        """Newest first."""
        query = select(Run).order_by(Run.id.desc()).limit(limit)
        if kind:
            query = query.where(Run.kind == kind)
        return list(self._s.scalars(query))


class AlertRepository:
    """Alert channels, rules and history."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def channels(self) -> list[ChannelSpec]:
        """Configured channels as specs, URLs decrypted (for delivery only)."""
        rows = self._s.scalars(select(AlertChannel).order_by(AlertChannel.name))
        return [self._spec(r) for r in rows]

    def channel_list(self) -> list[dict[str, Any]]:
        """Configured channels for display: name, masked URL, enabled (nothing decrypted)."""
        rows = self._s.scalars(select(AlertChannel).order_by(AlertChannel.name))
        return [{"name": r.name, "url": r.url, "enabled": r.enabled} for r in rows]

    def channel(self, name: str) -> ChannelSpec | None:
        """One channel with its URL decrypted, or None."""
        row = self._s.scalar(select(AlertChannel).where(AlertChannel.name == name))
        return None if row is None else self._spec(row)

    @staticmethod
    def _spec(row: AlertChannel) -> ChannelSpec:
        from core.alerts.vault import unseal

        if row.url_ciphertext is None:  # only the in-app pseudo-URL is ever stored so
            url = row.url
        else:
            url = unseal(row.url_ciphertext, what=f"the URL of channel {row.name}")
        return ChannelSpec.model_construct(name=row.name, url=SecretStr(url), enabled=row.enabled)

    def upsert_channel(self, spec: ChannelSpec) -> None:
        """Create or replace a channel; the URL is stored encrypted, with a masked copy."""
        from core.alerts.vault import seal

        url = spec.url.get_secret_value()
        masked, sealed = (url, None) if url == "in-app" else (spec.masked, seal(url))
        row = self._s.scalar(select(AlertChannel).where(AlertChannel.name == spec.name))
        if row is None:
            row = AlertChannel(name=spec.name)
            self._s.add(row)
        row.url, row.url_ciphertext, row.enabled = masked, sealed, spec.enabled
        self._s.flush()

    def set_channel_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable a channel; False if it does not exist."""
        row = self._s.scalar(select(AlertChannel).where(AlertChannel.name == name))
        if row is None:
            return False
        row.enabled = enabled
        self._s.flush()
        return True

    def delete_channel(self, name: str) -> bool:
        """Remove a channel; False if it did not exist."""
        row = self._s.scalar(select(AlertChannel).where(AlertChannel.name == name))
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    def rules(self) -> list[AlertRuleSpec]:
        """Configured rules as specs. A stored rule that no longer validates (e.g. a
        drawdown threshold of 50 saved before thresholds were checked in their unit) is
        returned disabled, with the reason in its ``problem``."""
        from pydantic import ValidationError

        out = []
        for r in self._s.scalars(select(AlertRule).order_by(AlertRule.name)):
            fields = {
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

    def set_rule_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable a rule; False if it does not exist."""
        row = self._s.scalar(select(AlertRule).where(AlertRule.name == name))
        if row is None:
            return False
        row.enabled = enabled
        row.updated_at = utcnow()
        self._s.flush()
        return True

    def upsert_rule(self, spec: AlertRuleSpec) -> None:
        """Create or replace a rule."""
        row = self._s.scalar(select(AlertRule).where(AlertRule.name == spec.name))
        params = {"threshold": spec.threshold, "metric": spec.metric}
        if row is None:
            row = AlertRule(name=spec.name)
            self._s.add(row)
        row.kind, row.params, row.channels = spec.kind, params, list(spec.channels)
        row.severity, row.cooldown_s, row.enabled = spec.severity, spec.cooldown_s, spec.enabled
        row.updated_at = utcnow()
        self._s.flush()

    def delete_rule(self, name: str) -> bool:
        """Remove a rule; False if it did not exist."""
        row = self._s.scalar(select(AlertRule).where(AlertRule.name == name))
        if row is None:
            return False
        self._s.delete(row)
        self._s.flush()
        return True

    def last_sent(self, dedupe_key: str) -> datetime | None:
        """When an alert with this key was last delivered (not suppressed or failed)."""
        return self._s.scalar(
            select(AlertEvent.created_at)
            .where(AlertEvent.dedupe_key == dedupe_key, AlertEvent.status == "sent")
            .order_by(AlertEvent.id.desc())
            .limit(1)
        )

    def record_event(self, **fields: Any) -> AlertEvent:
        """Append to the history."""
        event = AlertEvent(**fields)
        self._s.add(event)
        self._s.flush()
        return event

    def history(self, limit: int = 200) -> list[AlertEvent]:
        """Newest first."""
        return list(self._s.scalars(select(AlertEvent).order_by(AlertEvent.id.desc()).limit(limit)))
