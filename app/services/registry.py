"""The model registry for the pages, the CLI and jobs: roles, transactions, core calls.

The state machine (stages, the champion stack, artifact checks) is
:class:`core.registry.ModelRegistry`'s; this module checks the actor's role, opens the
transaction and returns typed rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from app.operations.registry import (
    PromoteRequest,
    RegisterRequest,
    RollbackRequest,
    VersionsRequest,
)
from app.services import runs as run_store
from app.services.auth import LOCAL, Actor, require
from app.services.db import get_engine
from core.monitoring.reference import record_registered
from core.registry import AlreadyRegistered, Candidate, ModelRegistry, VersionRow, validate_name
from core.store.db import session_scope

if TYPE_CHECKING:  # a return type: listing versions must not import sklearn
    from sklearn.pipeline import Pipeline


def list_versions(request: VersionsRequest | None = None) -> list[VersionRow]:
    """Registered versions by name, newest version first."""
    name = request.name if request is not None else None
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).list(name)


def register(request: RegisterRequest, *, actor: Actor = LOCAL) -> VersionRow:
    """Copy a training run's artifact into the registry as a new candidate version.

    One run is one version, whatever the name: a run that a live version already holds
    is refused (:class:`core.registry.AlreadyRegistered`, a ValueError naming it), for
    the pages, the CLI and the API alike."""
    require(actor, "analyst", "registering a model")
    run = run_store.get_run(request.run_id)
    candidate = Candidate.from_training_run(
        request.run_id, kind=run.kind, spec=run.spec, metrics=run.metrics
    )
    source = run_store.run_folder(request.run_id) / "model"
    with session_scope(get_engine()) as session:
        models = ModelRegistry(session)
        validate_name(request.name)  # a bad name is named first, whatever the run
        holder = models.holding_run(request.run_id)
        if holder is not None:
            raise AlreadyRegistered(request.run_id, holder)
        row = models.register(request.name, candidate, source=source, actor=actor.name)
        record_registered(session, row.id)  # the training reference (core.monitoring)
        return row


def promote(request: PromoteRequest, *, actor: Actor = LOCAL) -> VersionRow:
    """Make a version the champion of its name; the previous champion is archived."""
    require(actor, "pm", "promoting a model")
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).promote(
            request.version_id, reason=request.reason, actor=actor.name
        )


def rollback(request: RollbackRequest, *, actor: Actor = LOCAL) -> VersionRow:
    """Restore the previous champion of a name; the current one is archived."""
    require(actor, "pm", "rolling back a model")
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).rollback(
            request.name, reason=request.reason, actor=actor.name
        )


def events(name: str | None = None) -> list[dict[str, Any]]:
    """The registry's audit trail, newest first."""
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).events(name)


def compare_versions(a: int, b: int) -> pd.DataFrame:
    """Side-by-side metrics, params and data of two versions."""
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).compare(a, b)


def load_version(version_id: int) -> Pipeline:
    """Load a registered model after verifying its checksum."""
    with session_scope(get_engine()) as session:
        return ModelRegistry(session).load(version_id)


__all__ = [
    "compare_versions",
    "events",
    "list_versions",
    "load_version",
    "promote",
    "register",
    "rollback",
]
