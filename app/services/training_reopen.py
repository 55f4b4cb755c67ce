"""Reopen a finished training job's saved run as the outcome the Training page renders
(read back from ``job.result["run_id"]``, with no recomputation)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from app.operations.training import TrainRequest
from app.services.runs import get_run_of_kind, load_frame, stored_number

if TYPE_CHECKING:
    from app.services.training import TrainOutcome


def reopen_training(run_id: int) -> TrainOutcome:
    """A saved training run: evaluation, importance, signal metrics and curves."""
    from app.services.training import TrainOutcome

    run = get_run_of_kind(run_id, "train")
    spec = run.spec
    request = TrainRequest.model_validate(
        {k: spec[k] for k in TrainRequest.model_fields if k in spec}
    )
    m = run.metrics
    curves = load_frame(run, "curves")
    ranges = [
        tuple(date.fromisoformat(d) for d in m[name]) for name in ("train_range", "test_range")
    ]
    return TrainOutcome(
        run_id=run_id,
        request=request,
        params=dict(spec.get("resolved_params") or {}),
        features=list(spec.get("resolved_features") or request.features or []),
        evaluation=dict(m.get("evaluation") or {}),
        importance=load_frame(run, "importance"),
        signal_metrics={k: stored_number(v) for k, v in (m.get("signal") or {}).items()},
        equity=curves["equity"],
        benchmark=curves["benchmark"],
        train_range=(ranges[0][0], ranges[0][1]),
        test_range=(ranges[1][0], ranges[1][1]),
        trials=int(m.get("trials", 1)),
        data_hash=str(m.get("data_hash", "")),
        warnings=tuple(m.get("warnings") or ()),
        lookahead=m.get("lookahead"),
    )
