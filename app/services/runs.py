"""Saved runs: record, artifact folder, list and reopen (shared by every run kind)."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from app.operations.runs import RunsRequest
from app.services.db import get_engine
from core.config import get_settings
from core.store.db import session_scope
from core.store.runs import RunRepository


@dataclass(frozen=True)
class RunSummary:
    """One saved run, as listed."""

    id: int
    kind: str
    title: str
    status: str
    created_at: datetime
    metrics: dict[str, Any]
    spec: dict[str, Any]
    artifact_path: str | None


def run_folder(run_id: int) -> Path:
    """Artifact folder of a run."""
    return get_settings().var_dir / "runs" / str(run_id)


def save_run(
    *,
    kind: str,
    title: str,
    spec: dict[str, Any],
    metrics: dict[str, Any],
    frames: dict[str, pd.DataFrame],
    files: dict[str, Path] | None = None,
) -> int:
    """Store a finished run and its frames; nothing half-written, safe under concurrency.

    The frames are written first to a private temporary folder (no lock held meanwhile);
    then one short transaction inserts the row, moves the folder to the run's id and
    commits. Any failure removes the folder and rolls the row back. Titles need not be
    unique: concurrent saves with the same title are separate runs. ``files`` are Parquet
    files written beforehand (a large sweep's table), moved in as frames of those names.
    """
    root = get_settings().var_dir / "runs"
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=root))
    folder: Path | None = None
    try:
        for name, frame in frames.items():
            frame.to_parquet(staging / f"{name}.parquet")
        for name, path in (files or {}).items():  # frames already written (large tables)
            shutil.move(path, staging / f"{name}.parquet")
        with session_scope(get_engine()) as session:
            repo = RunRepository(session)
            run = repo.start(kind=kind, spec=spec, title=title)
            folder = run_folder(run.id)
            if folder.exists():  # left by an uncommitted attempt that got this id (SQLite)
                shutil.rmtree(folder)
            staging.rename(folder)
            repo.finish(run.id, metrics=metrics, artifact_path=str(folder))
            return run.id
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def list_runs(kind: str | None = None, limit: int = 50) -> list[RunSummary]:
    """Newest first."""
    with session_scope(get_engine()) as session:
        return [
            RunSummary(
                r.id, r.kind, r.title, r.status, r.created_at, r.metrics, r.spec, r.artifact_path
            )
            for r in RunRepository(session).list(kind=kind, limit=limit)
        ]


def list_saved(request: RunsRequest) -> list[RunSummary]:
    """The runs a :class:`~app.operations.runs.RunsRequest` asks for, newest first."""
    return list_runs(kind=request.kind, limit=request.limit)


def get_run(run_id: int) -> RunSummary:
    """One saved run, or LookupError naming the id."""
    with session_scope(get_engine()) as session:
        r = RunRepository(session).get(run_id)
        if r is None:
            raise LookupError(f"no saved run with id {run_id}; list them with the runs table")
        return RunSummary(
            r.id, r.kind, r.title, r.status, r.created_at, r.metrics, r.spec, r.artifact_path
        )


def get_run_of_kind(run_id: int, kind: str) -> RunSummary:
    """:func:`get_run`, or LookupError when the run is of another kind (for the reopens)."""
    run = get_run(run_id)
    if run.kind != kind:
        raise LookupError(f"run {run_id} is a {run.kind}, not a {kind}")
    return run


def stored_number(value: Any) -> float:
    """A number stored in a run's JSON metrics (``None`` stands for NaN there)."""
    return math.nan if value is None else float(value)


def load_frame(run: RunSummary, name: str) -> pd.DataFrame:
    """A stored frame of a run, or LookupError if its artifact is gone."""
    path = Path(run.artifact_path or "") / f"{name}.parquet"
    if not path.is_file():
        raise LookupError(f"run {run.id}: artifact {path} is missing")
    return pd.read_parquet(path)


def write_atomically(path: Path, write: Callable[[Path], object], *, prefix: str) -> Path:
    """``write`` a temporary file beside ``path``, then move it onto ``path`` (a reader
    sees the old file or the new one; a failed write leaves nothing behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
