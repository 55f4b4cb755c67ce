"""The sweep operation: its request, its JSON payload and its descriptor."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from app.operations import Flag, Operation, register
from app.operations.backtest import BacktestCosts
from app.operations.errors import RuleError
from app.operations.fields import (
    FirstDate,
    LastDate,
    StrategyName,
    StrategyParams,
    check_date_order,
)
from core.serialize import json_safe
from core.sweep.grid import GridAxis, check_grid
from core.sweep.result import METRICS

if TYPE_CHECKING:
    import pandas as pd

TOP = 10
"""Rows of the ranked table in a sweep's payload (the CLI's ``--top``)."""
TOP_KEPT = 1000
"""Best rows a sweep keeps beside its stored table (the most ``--top`` shows)."""


class SweepRequest(BacktestCosts):
    """A parameter sweep: the grid axes, fixed params and the ranking metric.

    Every combination of the ``grid`` axes (inclusive ``start:stop:step`` ranges) is
    backtested at once; parameters that are not swept take their ``fixed`` value or
    their default. The grid is checked against each parameter's declared range and
    capped (:data:`core.sweep.MAX_COMBINATIONS`) before any work. ``all_symbols`` sweeps
    every symbol of the dataset in one run (a universe sweep; ``symbol`` is then not given).
    """

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    strategy: StrategyName = "ma_crossover"
    grid: dict[str, GridAxis] = Field(title="Grid", description="name=start:stop:step (repeatable)")
    fixed: StrategyParams
    metric: str = Field(
        title="Rank by",
        default="sharpe",
        description="Ranking metric",
        json_schema_extra={"choices": "core.sweep:METRICS"},
    )
    start: FirstDate = None
    end: LastDate = None
    all_symbols: bool = Field(
        title="All symbols",
        default=False,
        description="Sweep every symbol of the dataset in one run",
    )

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.all_symbols:  # a universe sweep names no symbol (its spec rebuilds as one)
            data.pop("symbol", None)
        return data

    @model_validator(mode="after")
    def _check(self) -> SweepRequest:
        from core.strategies import STRATEGIES  # the catalog imports pandas
        from core.strategies.catalog import check_param

        if self.strategy not in STRATEGIES:
            raise RuleError(
                f"unknown strategy {self.strategy!r}; choose one of "
                f"{', '.join(sorted(STRATEGIES))}",
                "strategy",
            )
        if self.metric not in METRICS:
            raise RuleError(
                f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}", "metric"
            )
        check_grid(self.strategy, self.grid)
        for name, value in self.fixed.items():
            if name in self.grid:
                raise RuleError(f"{name} is both swept and fixed; give it one way only", "fixed")
            check_param(self.strategy, name, value)
        check_date_order(self.start, self.end)
        if self.all_symbols and "symbol" in self.model_fields_set:
            raise RuleError(
                f"give either a symbol ({self.symbol}) or all symbols, not both: "
                "a universe sweep runs on every symbol of the dataset",
                "all_symbols",
            )
        return self


@dataclass(frozen=True)
class UniverseResult:
    """What a universe sweep adds: the best combination of every symbol and the
    deflated Sharpe ratio of the overall best over every trial (combinations x symbols)."""

    symbols: tuple[str, ...]
    best_by_symbol: pd.DataFrame
    dsr: dict[str, float]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep: one row per combination, ranked by ``metric``.

    ``source`` is the table itself or the Parquet file it is stored in; :attr:`table`
    reads the file on first use, so a sweep of a million combinations does not hold its
    table in memory. ``heatmap`` is the max of ``metric`` over the first two swept params
    (a universe: symbol x first param), ``top_table`` the best :data:`TOP_KEPT` rows.
    """

    run_id: int | None
    request: SweepRequest
    source: pd.DataFrame | Path
    param_names: tuple[str, ...]
    combinations: int
    seconds: float
    metric: str
    best: dict[str, Any]
    execution: str
    heatmap: pd.DataFrame | None = None
    top_table: pd.DataFrame | None = None
    chunks: int = 1
    universe: UniverseResult | None = None

    @cached_property
    def table(self) -> pd.DataFrame:
        """Every combination with its metrics (grid order; symbol-major for a universe)."""
        import pandas as pd

        return (
            self.source if isinstance(self.source, pd.DataFrame) else pd.read_parquet(self.source)
        )

    def top(self, n: int = TOP) -> pd.DataFrame:
        """Best ``n`` rows by the request's metric (NaN last; ties in grid order)."""
        from core.sweep.result import rank

        if self.top_table is not None and n <= len(self.top_table):
            return self.top_table.head(n)
        return rank(self.table, self.metric, n)


def top_rows(outcome: SweepOutcome, n: int = TOP) -> list[dict[str, Any]]:
    """The best ``n`` rows of a sweep as JSON records (NaN as null)."""
    rows: list[dict[str, Any]] = (
        outcome.top(n).replace({float("nan"): None}).to_dict(orient="records")
    )
    return rows


def sweep_payload(outcome: SweepOutcome) -> dict[str, Any]:
    """The JSON payload of a finished sweep: counts, the best row and the top rows; a
    universe sweep adds its symbols, the best row per symbol and the deflated Sharpe."""
    payload: dict[str, Any] = {
        "combinations": outcome.combinations,
        "seconds": round(outcome.seconds, 4),
        "best": json_safe(dict(outcome.best)),
        "metric": outcome.metric,
        "run_id": outcome.run_id,
        "execution": outcome.execution,
        "chunks": outcome.chunks,
        "top": top_rows(outcome),
    }
    universe = outcome.universe
    if universe is not None:
        rows = universe.best_by_symbol.replace({float("nan"): None}).to_dict(orient="records")
        payload["universe"] = {
            "symbols": list(universe.symbols),
            "trials": universe.dsr.get("trials"),
            "dsr": json_safe(universe.dsr),
            "best_by_symbol": json_safe(rows),
            "skipped": dict(universe.skipped),
        }
    return payload


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

__all__ = [
    "SWEEP",
    "TOP",
    "TOP_KEPT",
    "SweepOutcome",
    "SweepRequest",
    "UniverseResult",
    "sweep_payload",
    "top_rows",
]
