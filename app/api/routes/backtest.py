"""API routes: one synchronous backtest, the same operation as ``workbench backtest``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.ops import run_operation
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller
from app.operations.backtest import BacktestRequest

router = APIRouter(
    prefix=API_PREFIX,
    tags=["backtest"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
)


@router.post(
    "/backtest",
    summary="Run a backtest",
    description="Backtest one strategy on one symbol (data, strategy, parameters, costs, dates, "
    "regime filter) and wait for it: the metrics, the benchmark's, the execution convention "
    "and the saved run's id, exactly what `workbench backtest --json` prints. Sweeps, "
    "walk-forward and training run as jobs (POST /api/v1/jobs/{operation}).",
)
def backtest(request: BacktestRequest, actor: Caller) -> dict[str, Any]:
    return run_operation("backtest", request, actor)
