"""Model training for the pages, the CLI and jobs: load the data, call core
(:func:`core.ml.training.train_classifier`), save the run and its model artifact."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.training import TrainRequest
from app.services.data import load_prices
from app.services.db import get_engine
from app.services.training_save import save_reference, save_training_run
from core.config import get_settings
from core.ml.training import data_hash, train_classifier


@dataclass(frozen=True)
class TrainOutcome:
    """A trained model with its evaluation and the saved run."""

    run_id: int | None
    request: TrainRequest
    params: dict[str, Any]
    features: list[str]
    evaluation: dict[str, Any]
    importance: pd.DataFrame
    signal_metrics: dict[str, float]
    equity: pd.Series
    benchmark: pd.Series
    train_range: tuple[date, date]
    test_range: tuple[date, date]
    trials: int
    data_hash: str
    warnings: tuple[str, ...] = ()
    lookahead: dict[str, Any] | None = None


def study_name(request: TrainRequest, prices_hash: str) -> str:
    """The Optuna study of ``request`` on these prices: a restarted job resumes it."""
    spec = json.dumps([request.model_dump(mode="json"), prices_hash], sort_keys=True)
    return f"{request.symbol}-{request.kind}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"


def train(
    request: TrainRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    save: bool = True,
) -> TrainOutcome:
    """Train, optionally tune with Optuna (study stored in the workbench database, its
    trials in batches on Dask), evaluate out of sample, backtest the signal on the test
    period and save the run. ``cancel`` is checked between steps and tuning trials."""

    def report(fraction: float, message: str) -> None:
        if cancel is not None:
            cancel.check()
        if progress is not None:
            progress(fraction, message)

    prices = load_prices(request.dataset, request.symbol)
    if request.tune:
        get_engine()  # the database (and its folder) exist before Optuna connects
    settings = request.model_dump(exclude={"dataset", "symbol"})
    result = train_classifier(
        prices,
        **settings,
        study_storage=get_settings().database_url,
        study_name=study_name(request, data_hash(prices)),
        progress=report,
        cancel=None if cancel is None else cancel.check,
        executor="dask",
    )
    run_id = None
    if save:
        report(0.95, "Saving the run")
        run_id = save_training_run(request, result)
        save_reference(request, prices, result, run_id)
    report(1.0, "Done")
    return TrainOutcome(
        run_id=run_id,
        request=request,
        params=result.spec.resolved_params(),
        features=result.features,
        evaluation=result.evaluation,
        importance=result.importance,
        signal_metrics=result.signal_metrics,
        equity=result.equity,
        benchmark=result.benchmark,
        train_range=result.train_range,
        test_range=result.test_range,
        trials=result.trials,
        data_hash=result.data_hash,
        warnings=result.warnings,
        lookahead=result.lookahead,
    )


__all__ = ["TrainOutcome", "study_name", "train"]
