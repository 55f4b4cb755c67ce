"""Retention of registered model artifacts.

Per model name, :func:`plan_retention` keeps the champion, every previous champion (each
version ever promoted or restored: the champion stack a rollback walks back through),
any version a pending promotion request names or a running live test shadows, and the
best ``keep`` other versions by their out-of-sample metric (registration metrics, e.g.
``roc_auc``; higher is better, ``log_loss``/``brier`` lower; a version without the
metric ranks last). The rest lose their artifact: :func:`apply_retention` moves them to
stage ``deleted`` with one ``retention_delete`` audit event each, and removes their
folders once the transaction commits (a rollback removes nothing). A deleted version
stays listed (its metrics and audit trail remain) but can no longer be promoted or
loaded.
"""

from __future__ import annotations

import math
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.store.model_loop import ModelLoopRepository
from core.store.models import ModelVersion
from core.store.registry import RegistryRepository

LOWER_IS_BETTER = ("log_loss", "brier")
DELETED = "deleted"


@dataclass(frozen=True)
class RetentionItem:
    """One version's fate, and why."""

    id: int
    name: str
    version: int
    stage: str
    metric: float | None
    action: str
    why: str
    artifact_path: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RetentionPlan:
    """What retention keeps and deletes (``deleted`` versions are left out)."""

    keep: int
    metric: str
    items: list[RetentionItem] = field(default_factory=list)

    @property
    def deletions(self) -> list[RetentionItem]:
        """The versions whose artifacts go."""
        return [i for i in self.items if i.action == "delete"]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "keep": self.keep,
            "metric": self.metric,
            "kept": [i.as_dict() for i in self.items if i.action == "keep"],
            "deleted": [i.as_dict() for i in self.deletions],
        }


def _metric(record: ModelVersion, metric: str) -> float | None:
    value = (record.metrics or {}).get(metric)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


def plan_retention(
    session: Session, *, keep: int, metric: str = "roc_auc", name: str | None = None
) -> RetentionPlan:
    """Decide, per name, what stays (see the module docstring); nothing is changed."""
    if keep < 0:
        raise ValueError(f"keep must be >= 0, got {keep}")
    repo = RegistryRepository(session)
    ever = {e.version_id for e in repo.events(name, actions=("promote", "restore"))}
    loop = ModelLoopRepository(session)
    pending = {r.version_id for r in loop.promotion_requests(status=("pending",))}
    testing = {t.challenger_version_id for t in loop.running_tests()}
    by_name: dict[str, list[ModelVersion]] = defaultdict(list)
    for record in repo.versions(name):
        if record.stage != DELETED:
            by_name[record.name].append(record)
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    items: list[RetentionItem] = []
    for versions in by_name.values():
        others: list[ModelVersion] = []
        for v in versions:
            why = ""
            if v.stage == "champion":
                why = "the champion"
            elif v.id in ever:
                why = "a previous champion"
            elif v.id in pending:
                why = "named by a pending promotion request"
            elif v.id in testing:
                why = "the challenger of a running live test"
            if why:
                items.append(_item(v, metric, "keep", why))
            else:
                others.append(v)

        def rank_key(v: ModelVersion) -> tuple[int, float, int]:
            value = _metric(v, metric)
            return (value is None, sign * value if value is not None else 0.0, -v.version)

        for rank, v in enumerate(sorted(others, key=rank_key), start=1):
            value = _metric(v, metric)
            shown = f"{value:.4f}" if value is not None else "missing"
            if rank <= keep:
                why = f"candidate ranked {rank} of {len(others)} by {metric} ({shown})"
                items.append(_item(v, metric, "keep", why))
            else:
                why = (
                    f"retention keeps the champion, previous champions and the best {keep} "
                    f"candidate(s) by {metric}; this one ranked {rank} of {len(others)} "
                    f"({metric} {shown})"
                )
                items.append(_item(v, metric, "delete", why))
    items.sort(key=lambda i: (i.name, -i.version))
    return RetentionPlan(keep=keep, metric=metric, items=items)


def _item(v: ModelVersion, metric: str, action: str, why: str) -> RetentionItem:
    return RetentionItem(
        id=v.id,
        name=v.name,
        version=v.version,
        stage=v.stage,
        metric=_metric(v, metric),
        action=action,
        why=why,
        artifact_path=v.artifact_path,
    )


def apply_retention(session: Session, plan: RetentionPlan, *, actor: str = "local") -> list[int]:
    """Delete the plan's versions (stage ``deleted``, one audit event each); their
    folders are removed after the commit. Returns the deleted version ids."""
    repo = RegistryRepository(session)
    folders: list[Path] = []
    done: list[int] = []
    for item in plan.deletions:
        record = repo.get(item.id)
        if record is None or record.stage == DELETED:
            continue
        before = record.stage
        repo.set_stage(record, DELETED)
        repo.add_event(
            name=record.name,
            version_id=record.id,
            action="retention_delete",
            from_stage=before,
            to_stage=DELETED,
            reason=f"artifact {record.artifact_path} deleted: {item.why}",
            actor=actor,
        )
        folders.append(Path(record.artifact_path))
        done.append(record.id)
    repo.flush()
    if folders:

        def remove(_session: Session) -> None:
            for folder in folders:
                shutil.rmtree(folder, ignore_errors=True)
            event.remove(session, "after_rollback", forget)

        def forget(_session: Session) -> None:
            event.remove(session, "after_commit", remove)

        event.listen(session, "after_commit", remove, once=True)
        event.listen(session, "after_rollback", forget, once=True)
    return done


__all__ = [
    "DELETED",
    "RetentionItem",
    "RetentionPlan",
    "apply_retention",
    "plan_retention",
]
