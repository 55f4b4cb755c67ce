"""The sweep operation: its request, its JSON payload and its descriptor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from app.operations import Flag, Operation, register
from app.operations.backtest import BacktestCosts
from core.serialize import json_safe
from core.sweep.grid import GridAxis, check_grid
from core.sweep.result import METRICS

if TYPE_CHECKING:
    import pandas as pd

TOP = 10
"""Rows of the ranked table in a sweep's payload (the CLI's ``--top``)."""


class SweepRequest(BacktestCosts):
    """A parameter sweep: the grid axes, fixed params and the ranking metric.

    Every combination of the ``grid`` axes (inclusive ``start:stop:step`` ranges) is
    backtested at once; parameters that are not swept take their ``fixed`` value or
    their default. The grid is checked against each parameter's declared range and
    capped (:data:`core.sweep.MAX_COMBINATIONS`) before any work.
    """

    dataset: str = Field(default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(default="SP500", description="Symbol in the dataset")
    strategy: str = Field(
        default="ma_crossover",
        description="Strategy name",
        json_schema_extra={"choices": "core.strategies:STRATEGIES"},
    )
    grid: dict[str, GridAxis] = Field(description="name=start:stop:step (repeatable)")
    fixed: dict[str, Any] = Field(
        default_factory=dict, description="Strategy parameter name=value (repeatable)"
    )
    metric: str = Field(
        default="sharpe",
        description="Ranking metric",
        json_schema_extra={"choices": "core.sweep:METRICS"},
    )
    start: date | None = Field(default=None, description="First date (YYYY-MM-DD)")
    end: date | None = Field(default=None, description="Last date (YYYY-MM-DD)")

    @model_validator(mode="after")
    def _check(self) -> SweepRequest:
        from core.strategies import STRATEGIES  # the catalog imports pandas
        from core.strategies.catalog import check_param

        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {self.strategy!r}; choose one of {sorted(STRATEGIES)}"
            )
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {list(METRICS)}")
        check_grid(self.strategy, self.grid)
        for name, value in self.fixed.items():
            if name in self.grid:
                raise ValueError(f"{name} is both swept and fixed; give it one way only")
            check_param(self.strategy, name, value)
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: one row per combination, ranked by ``metric``."""

    run_id: int | None
    request: SweepRequest
    table: pd.DataFrame
    param_names: tuple[str, ...]
    combinations: int
    seconds: float
    metric: str
    best: dict[str, Any]
    execution: str

    def top(self, n: int = TOP) -> pd.DataFrame:
        """Best ``n`` rows by the request's metric (NaN last)."""
        from core.sweep.result import rank

        return rank(self.table, self.metric, n)


def top_rows(outcome: SweepOutcome, n: int = TOP) -> list[dict[str, Any]]:
    """The best ``n`` rows of a sweep as JSON records (NaN as null)."""
    rows: list[dict[str, Any]] = (
        outcome.top(n).replace({float("nan"): None}).to_dict(orient="records")
    )
    return rows


def sweep_payload(outcome: SweepOutcome) -> dict[str, Any]:
    """The JSON payload of a finished sweep: counts, the best row and the top rows."""
    return {
        "combinations": outcome.combinations,
        "seconds": round(outcome.seconds, 4),
        "best": json_safe(dict(outcome.best)),
        "metric": outcome.metric,
        "run_id": outcome.run_id,
        "execution": outcome.execution,
        "top": top_rows(outcome),
    }


def _sweep_text(outcome: SweepOutcome, payload: dict[str, Any]) -> str:
    table = outcome.top(len(payload["top"])).to_string(index=False)
    return (
        f"{outcome.combinations} combinations in {outcome.seconds:.3f} s\n"
        f"best by {outcome.metric}: {payload['best']}\n{table}"
    )


SWEEP = register(
    Operation(
        name="sweep",
        feature="sweep",
        summary="Vectorized parameter sweep; prints combinations, seconds and the best row.",
        request=SweepRequest,
        service="app.services.sweep:run_sweep",
        payload=sweep_payload,
        text=_sweep_text,
        flags={"fixed": Flag(name="--param")},
        long_running=True,
    )
)

__all__ = ["SWEEP", "TOP", "SweepOutcome", "SweepRequest", "sweep_payload", "top_rows"]
