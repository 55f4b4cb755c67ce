"""Ensemble evaluation for the pages, the CLI and jobs.

Loads the data, calls core (:func:`core.ensemble.evaluate_with_regimes`: agents tuned in
sample, an online selector out of sample with filtered-HMM regime context) and saves the
run. Running an evaluation needs no role (like every research run).
"""

from __future__ import annotations

from dataclasses import replace

from app.operations import CancelToken, Progress
from app.operations.ensemble import EnsembleOutcome, EnsembleRequest
from app.services import runs as run_store
from app.services.data import load_prices
from app.services.ensemble_reopen import ensemble_frames
from core.ensemble import evaluate_with_regimes


def run_ensemble(
    request: EnsembleRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    save: bool = True,
) -> EnsembleOutcome:
    """Walk-forward ensemble evaluation with regime context from the filtered HMM.

    ``progress(fraction, message)`` follows the regime fit and each tuned agent;
    ``cancel`` is checked between them. A cancelled run raises
    :class:`app.operations.Cancelled` and saves nothing.
    """
    prices = load_prices(request.dataset, request.symbol)
    run = evaluate_with_regimes(
        prices,
        selector=request.selector,
        train_fraction=request.train_fraction,
        seed=request.seed,
        spec=request.spec(),
        progress=progress,
        cancel=None if cancel is None else cancel.check,
    )
    outcome = EnsembleOutcome(None, request, run.result, run.by_regime, run.regimes)
    if not save:
        return outcome
    result = run.result
    run_id = run_store.save_run(
        kind="ensemble",
        title=f"ensemble {request.selector} {request.symbol}",
        spec=request.model_dump(mode="json"),
        metrics=outcome.run_metrics(),
        frames={
            "returns": result.returns,
            "weights": result.weights,
            "regret": result.regret_curve.to_frame("regret"),
            "by_regime": run.by_regime,
            **ensemble_frames(result, run.regimes),  # so that the run reopens whole
        },
    )
    return replace(outcome, run_id=run_id)
