"""The model registry's state machine over a caller-owned Session.

Each name has numbered versions. A version is registered as a *candidate*; promoting it
makes it the name's only *champion* and archives the previous one; a rollback archives
the champion and restores the one it replaced. Every action writes an audit event, and
every artifact's checksum is verified before a version becomes champion.

The caller owns the transaction (services open it); the registry flushes but never
commits. A registered artifact folder lives and dies with the transaction: when it rolls
back, the copy is removed.
"""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.config import get_settings
from core.registry._versions import Candidate, VersionRow, compare_table, validate_name
from core.registry.artifacts import load_model, verify_artifact
from core.store.models import ModelEvent, ModelVersion
from core.store.registry import RegistryRepository

if TYPE_CHECKING:  # a return type; load_model imports sklearn when a model is loaded
    from sklearn.pipeline import Pipeline


def _row(v: ModelVersion) -> VersionRow:
    return VersionRow(
        id=v.id,
        name=v.name,
        version=v.version,
        kind=v.kind,
        stage=v.stage,
        features=list(v.features),
        params=dict(v.params),
        train_start=v.train_start,
        train_end=v.train_end,
        data_hash=v.data_hash,
        metrics=dict(v.metrics),
        checksum=v.checksum,
        created_at=v.created_at,
        promoted_at=v.promoted_at,
    )


def _event(e: ModelEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "name": e.name,
        "version_id": e.version_id,
        "action": e.action,
        "from": e.from_stage,
        "to": e.to_stage,
        "reason": e.reason,
        "actor": e.actor,
        "at": e.created_at.isoformat(),
    }


def _verify(record: ModelVersion) -> None:
    verify_artifact(record.artifact_path, expected_checksum=record.checksum)


def _remove_on_rollback(session: Session, folder: Path) -> None:
    """Delete ``folder`` if the session's transaction rolls back (kept once committed)."""
    committed = False

    def on_commit(_session: Session) -> None:
        nonlocal committed
        committed = True

    def on_rollback(_session: Session) -> None:
        if not committed:
            shutil.rmtree(folder, ignore_errors=True)

    event.listen(session, "after_commit", on_commit, once=True)
    event.listen(session, "after_rollback", on_rollback, once=True)


class ModelRegistry:
    """Register, promote and roll back model versions; list them and read the audit trail.

    Parameters
    ----------
    session : Session
        Open session; the caller commits or rolls back.
    root : path, optional
        Folder of the registered artifacts (``<root>/<name>/v<version>``); default the
        ``models`` folder of the workbench's runtime directory.
    """

    def __init__(self, session: Session, *, root: Path | None = None) -> None:
        self._session = session
        self._repo = RegistryRepository(session)
        self._root = Path(root) if root is not None else get_settings().var_dir / "models"

    def register(
        self, name: str, candidate: Candidate, *, source: str | Path, actor: str = "local"
    ) -> VersionRow:
        """Copy the artifact at ``source`` in as the next candidate version of ``name``.

        Raises
        ------
        ValueError
            A bad name.
        ArtifactError
            The source artifact (or its copy) fails its checksums.
        """
        validate_name(name)
        checksum = str(verify_artifact(source)["checksum"])
        version = self._repo.latest_version(name) + 1
        folder = self._root / name / f"v{version}"
        try:
            if folder.exists():
                shutil.rmtree(folder)
            shutil.copytree(source, folder)
            _remove_on_rollback(self._session, folder)
            verify_artifact(folder, expected_checksum=checksum)
            record = self._repo.add_version(
                ModelVersion(
                    name=name,
                    version=version,
                    kind=candidate.kind,
                    params=candidate.params,
                    features=candidate.features,
                    dataset=candidate.dataset,
                    train_start=candidate.train_start,
                    train_end=candidate.train_end,
                    data_hash=candidate.data_hash,
                    metrics=candidate.metrics,
                    stage="candidate",
                    artifact_path=str(folder),
                    checksum=checksum,
                )
            )
            self._repo.add_event(
                name=name,
                version_id=record.id,
                action="register",
                from_stage=None,
                to_stage="candidate",
                reason=f"from training run {candidate.run_id}",
                actor=actor,
            )
            self._repo.flush()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return _row(record)

    def promote(self, version_id: int, *, reason: str = "", actor: str = "local") -> VersionRow:
        """Make a version the champion of its name; the previous champion is archived."""
        target = self._record(version_id)
        if target.stage == "champion":
            raise ValueError(f"{target.name} v{target.version} is already the champion")
        _verify(target)
        for current in self._repo.champions(target.name):
            self._repo.set_stage(current, "archived")
            self._repo.add_event(
                name=current.name,
                version_id=current.id,
                action="archive",
                from_stage="champion",
                to_stage="archived",
                reason=f"replaced by v{target.version}",
                actor=actor,
            )
        previous = target.stage
        self._repo.set_stage(target, "champion", promoted=True)
        self._repo.add_event(
            name=target.name,
            version_id=target.id,
            action="promote",
            from_stage=previous,
            to_stage="champion",
            reason=reason,
            actor=actor,
        )
        self._repo.flush()
        return _row(target)

    def rollback(self, name: str, *, reason: str = "", actor: str = "local") -> VersionRow:
        """Restore the champion that ``name``'s current champion replaced.

        Champions form a stack: each promotion pushes, each rollback pops, so repeated
        rollbacks walk further back instead of flip-flopping between two versions.
        """
        current = next(iter(self._repo.champions(name)), None)
        if current is None:
            raise LookupError(f"model {name!r} has no champion to roll back")
        stack: list[int] = []
        for past in reversed(self._repo.events(name, actions=("promote", "rollback"))):
            if past.action == "promote":
                stack = [v for v in stack if v != past.version_id] + [past.version_id]
            elif stack and stack[-1] == past.version_id:
                stack.pop()
        if len(stack) < 2 or stack[-1] != current.id:
            raise LookupError(f"model {name!r} has no earlier champion to roll back to")
        earlier = self._record(stack[-2])
        _verify(earlier)
        self._repo.set_stage(current, "archived")
        self._repo.set_stage(earlier, "champion", promoted=True)
        for record, action, before, after in (
            (current, "rollback", "champion", "archived"),
            (earlier, "restore", "archived", "champion"),
        ):
            self._repo.add_event(
                name=name,
                version_id=record.id,
                action=action,
                from_stage=before,
                to_stage=after,
                reason=reason,
                actor=actor,
            )
        self._repo.flush()
        return _row(earlier)

    def holding_run(self, run_id: int) -> VersionRow | None:
        """The live (not deleted) version registered from training run ``run_id``, if any."""
        return next(
            (
                row
                for row in (_row(v) for v in self._repo.versions())
                if row.run_id == run_id and row.stage != "deleted"
            ),
            None,
        )

    def get(self, version_id: int) -> VersionRow:
        """One version; LookupError when there is none with that id."""
        return _row(self._record(version_id))

    def champion(self, name: str) -> VersionRow | None:
        """The champion of ``name``, if it has one."""
        current = next(iter(self._repo.champions(name)), None)
        return _row(current) if current is not None else None

    def events(self, name: str | None = None) -> builtins.list[dict[str, Any]]:
        """The audit trail, newest first (``name``'s only when given)."""
        return [_event(e) for e in self._repo.events(name)]

    def compare(self, a: int, b: int) -> pd.DataFrame:
        """Two versions side by side (see :func:`compare_table`)."""
        rows = {v.id: v for v in self.list()}
        missing = [i for i in (a, b) if i not in rows]
        if missing:
            raise LookupError(f"no model versions {missing}")
        return compare_table(rows[a], rows[b])

    def load(self, version_id: int) -> Pipeline:
        """The fitted pipeline of a version, after verifying its checksum."""
        record = self._record(version_id)
        return load_model(record.artifact_path, expected_checksum=record.checksum)

    def list(self, name: str | None = None) -> builtins.list[VersionRow]:
        """Versions by name, newest version first (``name``'s only when given)."""
        return [_row(v) for v in self._repo.versions(name)]

    def _record(self, version_id: int) -> ModelVersion:
        record = self._repo.get(version_id)
        if record is None:
            raise LookupError(f"no model version with id {version_id}")
        return record


__all__ = ["ModelRegistry"]
