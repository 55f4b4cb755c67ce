"""API routes: online predictions of a registered model, for one symbol or many.

Each runs its operation (``predict-one``, ``predict-batch``) through
:func:`app.api.ops.run_operation`, so the numbers are the CLI's and batch ``predict``'s.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.ops import run_operation
from app.api.paths import API_PREFIX
from app.operations.predict import (
    BatchPredictions,
    OnePrediction,
    PredictBatchRequest,
    PredictOneRequest,
)
from app.services.auth import Actor

router = APIRouter(prefix=API_PREFIX, tags=["predictions"])

_CAUSAL = (
    "The probability at a bar uses bars up to that bar only, and equals what batch "
    "prediction (`POST /api/v1/jobs/predict`) stores for it. `model` is a version id, "
    "`NAME:VERSION` or `NAME@champion`; `as_of` picks the last bar on or before that date "
    "(default the latest). Nothing is stored."
)


@router.post(
    "/predictions",
    response_model=OnePrediction,
    summary="Predict one symbol",
    description="The up-probability P(up) of one symbol at one bar, or of a feature row "
    "sent in `features` (the model's features by name; unknown or missing ones are a 422 "
    "naming them). " + _CAUSAL,
    responses={k: ERROR_RESPONSES[k] for k in (401, 403, 404, 422, 429, 500)},
)
async def predict_one(
    request: PredictOneRequest, actor: Actor = Depends(current_actor)
) -> dict[str, Any]:
    """One prediction, in the event loop (a cached model and series answer in well under
    1 ms, less than a hop to the thread pool; the first request of a model and symbol
    loads them there, once)."""
    return run_operation("predict-one", request, actor)


@router.post(
    "/predictions/batch",
    response_model=BatchPredictions,
    summary="Predict many symbols",
    description="The up-probability of each symbol (up to 500) at one bar each, in the "
    "order asked; a symbol whose features still warm up at that date gets `error` instead "
    "of a probability. " + _CAUSAL,
    responses={k: ERROR_RESPONSES[k] for k in (401, 403, 404, 422, 429, 500)},
)
def predict_batch(
    request: PredictBatchRequest, actor: Actor = Depends(current_actor)
) -> dict[str, Any]:
    """Many predictions."""
    return run_operation("predict-batch", request, actor)
