"""Backtest operations: their requests, and their descriptors for every front end."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from core.backtest.spec import BacktestSpec
from core.serialize import json_safe
from core.strategies import STRATEGIES, validate_params

Regime = Literal["bull", "bear", "sideways", "volatile"]


class BacktestCosts(Costs):
    """Trading costs plus the starting capital of a backtest."""

    init_cash: float = Field(default=100_000.0, gt=0, description="Starting cash")

    def spec(self) -> BacktestSpec:
        """The engine's spec."""
        return BacktestSpec(fees=self.fees, slippage=self.slippage, init_cash=self.init_cash)


class BacktestRequest(BacktestCosts):
    """One backtest: data, strategy, parameters, costs, date range and regime filter.

    ``regime_mode="filter"`` keeps positions only while the forward-filtered probability
    of the ``regimes`` allowed is at least ``regime_min_prob``; ``"scale"`` multiplies
    positions by the regime confidence. The HMM is fitted on bars *before* the test
    window (at least ``regime_train_bars``); when there are not enough, it is fitted on
    the first ``regime_train_bars`` bars and the strategy stays flat over them.
    """

    dataset: str = Field(default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(default="SP500", description="Symbol in the dataset")
    strategy: str = Field(
        default="ma_crossover",
        description="Strategy name",
        json_schema_extra={"choices": "core.strategies:STRATEGIES"},
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Strategy parameter name=value (repeatable)"
    )
    start: date | None = Field(default=None, description="First date (YYYY-MM-DD)")
    end: date | None = Field(default=None, description="Last date (YYYY-MM-DD)")
    regime_mode: Literal["off", "filter", "scale"] = Field(
        default="off",
        description="off, filter (trade only in the chosen regimes) or scale (size by confidence)",
    )
    regimes: list[Regime] = Field(
        default_factory=list,
        description="Regime to trade in (repeatable): bull, bear, sideways, volatile",
    )
    regime_min_prob: float = Field(
        default=0.5, ge=0, le=1, description="Filter threshold on the regime probability"
    )
    regime_train_bars: int = Field(
        default=750, ge=100, le=5000, description="Bars the HMM is fitted on before the window"
    )

    @field_validator("strategy")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; choose one of {sorted(STRATEGIES)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> BacktestRequest:
        validate_params(self.strategy, self.params)
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        if self.regime_mode == "filter" and not self.regimes:
            raise ValueError(
                "regimes: choose at least one regime to trade in when the filter is on"
            )
        return self


def backtest_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a finished backtest."""
    return {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "regime_note": outcome.regime_note,
        "benchmark": json_safe(outcome.benchmark_metrics),
        "run_id": outcome.run_id,
        "bars": len(outcome.equity),
        "fees": outcome.request.fees,
        "slippage": outcome.request.slippage,
    }


def _backtest_text(outcome: Any, payload: dict[str, Any]) -> str:
    return "\n".join(f"{k:>22}: {v}" for k, v in payload.items() if k != "benchmark")


BACKTEST = register(
    Operation(
        name="backtest",
        feature="backtest",
        summary="Backtest one strategy; prints the metrics and the execution convention.",
        request=BacktestRequest,
        service="app.services.research:run_backtest",
        payload=backtest_payload,
        text=_backtest_text,
        flags={"params": Flag(name="--param"), "regimes": Flag(name="--regime")},
    )
)

__all__ = ["BACKTEST", "BacktestCosts", "BacktestRequest", "backtest_payload"]
