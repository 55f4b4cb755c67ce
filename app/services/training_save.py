"""Saving a training run: the run (spec, metrics, curves, importance), the model
artifact and the training reference beside it."""

from __future__ import annotations

import pandas as pd

from app.operations.training import TrainRequest
from app.services import runs as run_store
from core.ml.training import TrainingResult
from core.registry import save_model
from core.serialize import json_safe


def save_training_run(request: TrainRequest, result: TrainingResult) -> int:
    """Store the run (spec, metrics, curves, importance) and the model artifact."""
    params = result.spec.resolved_params()
    scalar_eval = {k: v for k, v in result.evaluation.items() if isinstance(v, int | float)}
    run_id = run_store.save_run(
        kind="train",
        title=f"{request.kind} {request.symbol} h={request.horizon}",
        spec={
            **request.model_dump(mode="json"),
            "resolved_params": params,
            "resolved_features": result.features,
        },
        metrics={
            **json_safe(scalar_eval),
            "signal": json_safe(result.signal_metrics),
            "trials": result.trials,
            "data_hash": result.data_hash,
            "train_range": [d.isoformat() for d in result.train_range],
            "test_range": [d.isoformat() for d in result.test_range],
            "evaluation": json_safe(result.evaluation),
            "warnings": list(result.warnings),
            "lookahead": result.lookahead,
        },
        frames={
            "curves": pd.DataFrame(
                {
                    "equity": result.equity,
                    "benchmark": result.benchmark,
                    "proba": result.proba.reindex(result.equity.index),
                }
            ),
            "importance": result.importance,
        },
    )
    save_model(
        result.model,
        run_store.run_folder(run_id) / "model",
        metadata={"kind": request.kind, "params": params, "features": result.features},
    )
    return run_id


def save_reference(
    request: TrainRequest, prices: pd.DataFrame, result: TrainingResult, run_id: int
) -> None:
    """The training distribution of every feature and the OOS figures, beside the model
    (``reference.json``: the registry copies it with the artifact; live drift and model
    metrics compare with it, :mod:`core.monitoring.reference`)."""
    from core.monitoring.reference import training_reference, write_reference

    reference = training_reference(
        prices,
        result.features,
        horizon=request.horizon,
        label=request.label,
        test_fraction=request.test_fraction,
        proba=result.proba,
    )
    write_reference(run_store.run_folder(run_id) / "model", reference)


__all__ = ["save_reference", "save_training_run"]
