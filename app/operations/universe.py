"""The universe backtest: one strategy and its parameters on every symbol of a dataset.

Each symbol is backtested exactly as ``workbench backtest`` backtests it (same service
path, costs and execution convention), so a row of the table equals that symbol's single
backtest; the table is saved as one run (kind ``universe``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from app.operations import Flag, Operation, register
from app.operations.backtest import BacktestCosts, BacktestRequest
from app.operations.errors import RuleError
from app.operations.fields import (
    FirstDate,
    LastDate,
    StrategyName,
    StrategyParams,
    UniqueSymbols,
    check_date_order,
    check_strategy_params,
)
from core.serialize import json_safe

if TYPE_CHECKING:  # the table is a DataFrame; declaring the request needs no pandas
    import pandas as pd

MAX_SYMBOLS = 500
"""Most symbols one universe run backtests."""

COLUMNS = (
    "symbol",
    "bars",
    "start",
    "end",
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "volatility",
    "n_trades",
    "win_rate",
    "exposure",
    "turnover",
    "total_fees",
    "final_equity",
    "benchmark_total_return",
    "benchmark_sharpe",
    "benchmark_max_drawdown",
    "note",
)
"""Columns of the per-symbol table (metrics as :func:`core.backtest.metrics` defines them;
``benchmark_*`` are buy-and-hold of the same symbol at the same costs; ``note`` says why
a symbol was skipped)."""


class UniverseRequest(BacktestCosts):
    """One strategy and its parameters backtested on each symbol (all of the dataset's
    when ``symbols`` is empty), on the same dates and costs."""

    dataset: str = Field(title="Dataset", default="sp500_closes", description="Dataset name")
    symbols: UniqueSymbols = Field(
        title="Symbols",
        default_factory=list,
        max_length=MAX_SYMBOLS,
        description="Symbol to backtest (repeatable; default every symbol of the dataset)",
    )
    strategy: StrategyName = "ma_crossover"
    params: StrategyParams
    start: FirstDate = None
    end: LastDate = None

    @model_validator(mode="after")
    def _check(self) -> UniverseRequest:
        from core.strategies import STRATEGIES  # the catalog imports pandas

        if self.strategy not in STRATEGIES:
            raise RuleError(
                f"unknown strategy {self.strategy!r}; choose one of "
                f"{', '.join(sorted(STRATEGIES))}",
                "strategy",
            )
        check_strategy_params(self.strategy, self.params)
        check_date_order(self.start, self.end)
        return self

    def backtest(self, symbol: str) -> BacktestRequest:
        """The single-symbol backtest request of ``symbol`` (what its row equals)."""
        fields = self.model_dump(exclude={"symbols"})
        return BacktestRequest.model_validate({**fields, "symbol": symbol})


@dataclass(frozen=True)
class UniverseOutcome:
    """The per-symbol table (:data:`COLUMNS`, one row per symbol in request order)."""

    run_id: int | None
    request: UniverseRequest
    table: pd.DataFrame
    execution: str

    def summary(self) -> dict[str, Any]:
        """Headline numbers over the symbols that ran (NaN-free, JSON-safe)."""
        done = self.table[self.table["note"] == ""]
        ranked = done.dropna(subset=["sharpe"]).sort_values("sharpe", ascending=False)
        return json_safe(
            {
                "symbols": len(self.table),
                "backtested": len(done),
                "skipped": len(self.table) - len(done),
                "median_sharpe": float(done["sharpe"].median()) if len(done) else None,
                "median_total_return": float(done["total_return"].median()) if len(done) else None,
                "beat_benchmark": int(
                    (done["total_return"] > done["benchmark_total_return"]).sum()
                ),
                "best": ranked["symbol"].iloc[0] if len(ranked) else None,
                "worst": ranked["symbol"].iloc[-1] if len(ranked) else None,
            }
        )


def universe_payload(outcome: UniverseOutcome) -> dict[str, Any]:
    """The JSON payload: the table's rows, the summary, and the convention and costs."""
    req = outcome.request
    return {
        "run_id": outcome.run_id,
        "dataset": req.dataset,
        "strategy": req.strategy,
        "params": req.params,
        "execution": outcome.execution,
        "fees": req.fees,
        "slippage": req.slippage,
        "init_cash": req.init_cash,
        "summary": outcome.summary(),
        "table": json_safe(outcome.table.to_dict(orient="records")),
    }


def _universe_text(outcome: UniverseOutcome, payload: dict[str, Any]) -> str:
    shown = ["symbol", "total_return", "sharpe", "max_drawdown", "n_trades", "note"]
    return "\n".join(
        [
            outcome.table[shown]
            .astype({"n_trades": "Int64"})
            .to_string(index=False, float_format=lambda x: f"{x:.4f}"),
            "",
            f"execution: {payload['execution']}",
            f"costs: fees {payload['fees']}, slippage {payload['slippage']} per fill",
            f"saved as run {payload['run_id']}",
        ]
    )


UNIVERSE = register(
    Operation(
        name="universe",
        feature="universe",
        summary=(
            "Backtest one strategy on every symbol of a dataset (or the symbols given); "
            "one row per symbol, saved as a run."
        ),
        request=UniverseRequest,
        service="app.services.universe:run_universe",
        payload=universe_payload,
        text=_universe_text,
        flags={"symbols": Flag(name="--symbol"), "params": Flag(name="--param")},
        long_running=True,
    )
)

__all__ = [
    "COLUMNS",
    "MAX_SYMBOLS",
    "UNIVERSE",
    "UniverseOutcome",
    "UniverseRequest",
    "universe_payload",
]
