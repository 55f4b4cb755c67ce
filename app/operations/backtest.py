"""Backtest operations (one strategy, a portfolio, the tear sheet): their requests, their
JSON payloads and their descriptors for every front end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from app.operations.errors import RuleError
from app.operations.fields import (
    ROW_ID_MAX,
    FirstDate,
    LastDate,
    StrategyName,
    StrategyParams,
    UniqueSymbols,
    check_date_order,
    check_strategy_params,
)
from core.backtest.spec import EXECUTION, BacktestSpec
from core.serialize import json_safe

if TYPE_CHECKING:  # outcomes hold pandas objects; declaring the requests needs no pandas
    import pandas as pd

Regime = Literal["bull", "bear", "sideways", "volatile"]
MAX_CASH = 1e9
"""Largest starting cash a backtest accepts (the pages' inputs stop there too)."""


class BacktestCosts(Costs):
    """Trading costs plus the starting capital of a backtest."""

    init_cash: float = Field(
        title="Initial cash",
        default=100_000.0,
        gt=0,
        le=MAX_CASH,
        description="Starting cash (account currency)",
    )

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

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    strategy: StrategyName = "ma_crossover"
    params: StrategyParams
    start: FirstDate = None
    end: LastDate = None
    regime_mode: Literal["off", "filter", "scale"] = Field(
        title="Regime mode",
        default="off",
        description="off, filter (trade only in the chosen regimes) or scale (size by confidence)",
    )
    regimes: list[Regime] = Field(
        title="Trade in regimes",
        default_factory=list,
        description="Regime to trade in (repeatable): bull, bear, sideways, volatile",
    )
    regime_min_prob: float = Field(
        title="Min probability",
        default=0.5,
        ge=0,
        le=1,
        description="Filter threshold on the regime probability",
    )
    regime_train_bars: int = Field(
        title="Regime training bars",
        default=750,
        ge=100,
        le=5000,
        description="Bars the HMM is fitted on before the window",
    )

    @field_validator("strategy")
    @classmethod
    def _known(cls, value: str) -> str:
        from core.strategies import STRATEGIES  # the catalog imports pandas

        if value not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {value!r}; choose one of {', '.join(sorted(STRATEGIES))}"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> BacktestRequest:
        check_strategy_params(self.strategy, self.params)
        check_date_order(self.start, self.end)
        if self.regime_mode == "filter" and not self.regimes:
            raise RuleError(
                "choose at least one regime to trade in when the regime filter is on", "regimes"
            )
        return self


@dataclass(frozen=True)
class BacktestOutcome:
    """A finished backtest with its benchmark (buy-and-hold) and saved run id."""

    run_id: int | None
    request: BacktestRequest
    equity: pd.Series
    benchmark: pd.Series
    drawdown: pd.Series
    returns: pd.Series
    benchmark_returns: pd.Series
    positions: pd.Series
    trades: pd.DataFrame
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float]
    execution: str
    regime_note: str = ""

    @classmethod
    def from_curves(
        cls,
        run_id: int | None,
        request: BacktestRequest,
        curves: Mapping[str, pd.Series],
        trades: pd.DataFrame,
        metrics: dict[str, float],
        benchmark_metrics: dict[str, float],
        regime_note: str = "",
    ) -> BacktestOutcome:
        """Build from the per-bar curves: the engine's series or a saved ``curves`` frame
        (equity, benchmark, drawdown, returns, benchmark_returns, positions)."""
        return cls(
            run_id=run_id,
            request=request,
            equity=curves["equity"],
            benchmark=curves["benchmark"],
            drawdown=curves["drawdown"],
            returns=curves["returns"],
            benchmark_returns=curves["benchmark_returns"],
            positions=curves["positions"],
            trades=trades,
            metrics=metrics,
            benchmark_metrics=benchmark_metrics,
            execution=EXECUTION,
            regime_note=regime_note,
        )


def backtest_payload(outcome: BacktestOutcome) -> dict[str, Any]:
    """The JSON payload of a finished backtest (``bar_interval``: the data's, by which
    the metrics are annualized)."""
    from core.data.loaders import interval_text

    return {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "regime_note": outcome.regime_note,
        "benchmark": json_safe(outcome.benchmark_metrics),
        "run_id": outcome.run_id,
        "bars": len(outcome.equity),
        "bar_interval": interval_text(outcome.equity.index),
        "fees": outcome.request.fees,
        "slippage": outcome.request.slippage,
    }


def _backtest_text(outcome: BacktestOutcome, payload: dict[str, Any]) -> str:
    return "\n".join(f"{k:>22}: {v}" for k, v in payload.items() if k != "benchmark")


BACKTEST = register(
    Operation(
        name="backtest",
        feature="backtest",
        summary="Backtest one strategy; prints the metrics and the execution convention.",
        request=BacktestRequest,
        service="app.services.backtest:run_backtest",
        payload=backtest_payload,
        text=_backtest_text,
        flags={"params": Flag(name="--param"), "regimes": Flag(name="--regime")},
    )
)


class PortfolioRequest(BacktestCosts):
    """A multi-asset book: symbols, weighting scheme and rebalancing, shared cash."""

    dataset: str = Field(title="Dataset", default="sp500_closes", description="Dataset name")
    symbols: UniqueSymbols = Field(
        title="Symbols", min_length=2, max_length=25, description="Symbol (repeat, 2-25)"
    )
    weighting: Literal["equal", "inverse_vol"] = Field(
        title="Weights",
        default="equal",
        description="equal or inverse_vol (inverse trailing volatility)",
    )
    vol_window: int = Field(
        title="Volatility window (bars)",
        default=63,
        ge=5,
        le=504,
        description="Bars of the trailing volatility (inverse_vol)",
    )
    gross: float = Field(
        title="Gross exposure",
        default=1.0,
        gt=0,
        le=1.0,
        description="Sum of |weights| (gross exposure)",
    )
    rebalance: Literal["W", "M", "none"] = Field(
        title="Rebalance", default="M", description="W, M or none"
    )
    start: FirstDate = None
    end: LastDate = None

    @model_validator(mode="after")
    def _period(self) -> PortfolioRequest:
        check_date_order(self.start, self.end)
        return self


@dataclass(frozen=True)
class PortfolioOutcome:
    """A finished portfolio backtest."""

    run_id: int | None
    request: PortfolioRequest
    equity: pd.Series
    drawdown: pd.Series
    weights: pd.DataFrame
    metrics: dict[str, float]
    execution: str


def portfolio_payload(outcome: PortfolioOutcome) -> dict[str, Any]:
    """The JSON payload of a finished portfolio backtest."""
    return {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "run_id": outcome.run_id,
        "final_weights": outcome.weights.iloc[-1].round(6).to_dict(),
    }


PORTFOLIO = register(
    Operation(
        name="portfolio",
        feature="backtest",
        summary="Multi-asset backtest with shared cash, target weights and rebalancing.",
        request=PortfolioRequest,
        service="app.services.backtest:run_portfolio",
        payload=portfolio_payload,
        flags={"symbols": Flag(name="--symbol")},
    )
)


class ReportRequest(BacktestRequest):
    """A tear sheet of a new backtest, or of the saved backtest ``run_id``."""

    run_id: int | None = Field(
        title="Saved run id",
        default=None,
        ge=1,
        le=ROW_ID_MAX,
        description="Saved backtest run id instead",
    )


@dataclass(frozen=True)
class ReportOutcome:
    """A quantstats HTML tear sheet, the backtest run it describes and where it is kept."""

    html: str
    run_id: int | None
    html_path: str | None = None


def report_payload(outcome: ReportOutcome) -> dict[str, Any]:
    """The JSON payload of a tear sheet: its size, the backtest run it describes and the
    HTML kept with that run (the result reference of a job; the CLI adds ``out``)."""
    return {"bytes": len(outcome.html), "run_id": outcome.run_id, "html_path": outcome.html_path}


def _report_text(outcome: ReportOutcome, payload: dict[str, Any]) -> str:
    where = payload.get("out") or payload.get("html_path") or "the tear sheet"
    return f"wrote {where} ({payload['bytes']:,} bytes)"


REPORT = register(
    Operation(
        name="report",
        feature="backtest",
        summary=(
            "Write a quantstats HTML tear sheet (benchmark: buy-and-hold of the same symbol)."
        ),
        request=ReportRequest,
        service="app.services.report:report",
        payload=report_payload,
        text=_report_text,
        flags={
            "run_id": Flag(name="--run"),
            "params": Flag(name="--param"),
            "regimes": Flag(name="--regime"),
        },
        long_running=True,
    )
)

__all__ = [
    "BACKTEST",
    "MAX_CASH",
    "PORTFOLIO",
    "REPORT",
    "BacktestCosts",
    "BacktestOutcome",
    "BacktestRequest",
    "PortfolioOutcome",
    "PortfolioRequest",
    "ReportOutcome",
    "ReportRequest",
    "backtest_payload",
    "portfolio_payload",
    "report_payload",
]
