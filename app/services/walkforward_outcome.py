"""What a walk-forward returns to its callers (its own module, so that the report and
the service both use it without importing each other)."""

from __future__ import annotations

from dataclasses import dataclass

from app.operations.walkforward import WalkForwardRequest
from core.walkforward import WalkForwardResult


@dataclass(frozen=True)
class WalkForwardOutcome:
    """The engine's result and the saved run id."""

    run_id: int | None
    request: WalkForwardRequest
    result: WalkForwardResult
    data_hash: str = ""
    """sha256 of the prices it ran on (:func:`core.ml.training.data_hash`)."""


__all__ = ["WalkForwardOutcome"]
