"""Registry values: a registered version as users see it, and a training run to register."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

STAGES = ("candidate", "champion", "archived", "deleted")
"""Lifecycle of a version: registered as a candidate, promoted to champion (one per
name), archived when replaced or rolled back; deleted (artifact removed) by retention."""

_RUN_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "trials")


def validate_name(name: str) -> str:
    """Check a model name: 1-64 letters, digits, '-' or '_'.

    >>> validate_name("sp500-xgb_h5")
    'sp500-xgb_h5'
    """
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"model name {name!r}: use 1-64 letters, digits, '-' or '_'")
    return name


class AlreadyRegistered(ValueError):
    """A training run that a live version already holds: registering it again would only
    duplicate that version (:meth:`core.registry.ModelRegistry.holding_run`)."""

    def __init__(self, run_id: int, holder: VersionRow) -> None:
        self.run_id, self.holder = run_id, holder
        super().__init__(
            f"Training run #{run_id} is already registered as {holder.label} "
            f"({holder.stage}); promote or compare that version instead of registering "
            "the run again."
        )


@dataclass(frozen=True)
class VersionRow:
    """A registry entry as shown to users."""

    id: int
    name: str
    version: int
    kind: str
    stage: str
    features: list[str]
    params: dict[str, Any]
    train_start: date
    train_end: date
    data_hash: str
    metrics: dict[str, Any]
    checksum: str
    created_at: datetime | None
    promoted_at: datetime | None

    @property
    def label(self) -> str:
        """The version as users name it: ``momentum_lr v2``."""
        return f"{self.name} v{self.version}"

    @property
    def run_id(self) -> int | None:
        """The training run it was registered from (None for a live retrain)."""
        run_id = self.metrics.get("run_id")
        return int(run_id) if isinstance(run_id, int) and not isinstance(run_id, bool) else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.__dict__.items()
        }


@dataclass(frozen=True)
class Candidate:
    """What a training run registers as: model, data and the headline metrics."""

    run_id: int
    kind: str
    params: dict[str, Any]
    features: list[str]
    dataset: str
    train_start: date
    train_end: date
    data_hash: str
    metrics: dict[str, Any]

    @classmethod
    def from_training_run(
        cls, run_id: int, *, kind: str, spec: Mapping[str, Any], metrics: Mapping[str, Any]
    ) -> Candidate:
        """The candidate of a saved run; ValueError unless it is a training run."""
        if kind != "train":
            raise ValueError(f"run {run_id} is a {kind}, not a training run")
        signal = metrics.get("signal") or {}
        return cls(
            run_id=run_id,
            kind=str(spec["kind"]),
            params=dict(spec.get("resolved_params", spec.get("params", {}))),
            features=list(spec.get("resolved_features") or spec.get("features") or []),
            dataset=f"{spec['dataset']}/{spec['symbol']}",
            train_start=date.fromisoformat(metrics["train_range"][0]),
            train_end=date.fromisoformat(metrics["train_range"][1]),
            data_hash=str(metrics["data_hash"]),
            metrics={k: metrics.get(k) for k in _RUN_METRICS}
            | {"signal_sharpe": signal.get("sharpe"), "run_id": run_id},
        )


def compare_table(a: VersionRow, b: VersionRow) -> pd.DataFrame:
    """Side-by-side metrics, params and data of two versions (as text, one column each)."""

    def flat(v: VersionRow) -> dict[str, Any]:
        return {
            "name": v.label,
            "kind": v.kind,
            "stage": v.stage,
            "train": f"{v.train_start}..{v.train_end}",
            "features": len(v.features),
            **{f"metric.{k}": val for k, val in v.metrics.items()},
            **{f"param.{k}": val for k, val in v.params.items()},
        }

    return pd.DataFrame({f"#{a.id}": flat(a), f"#{b.id}": flat(b)}).astype("string")


__all__ = [
    "STAGES",
    "AlreadyRegistered",
    "Candidate",
    "VersionRow",
    "compare_table",
    "validate_name",
]
