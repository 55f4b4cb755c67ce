"""Research services: backtests, sweeps and tear sheets (pages and CLI share these)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from app.operations.backtest import BacktestCosts, BacktestRequest
from app.services import runs as run_store
from app.services.data import load_prices
from core.backtest.spec import EXECUTION
from core.serialize import json_safe
from core.strategies import STRATEGIES
from core.strategies.catalog import check_param, check_windows, grid_constraints
from core.sweep import GridAxis, check_bars, check_grid

Progress = Callable[[float, str], None]


class SweepRequest(BacktestCosts):
    """A parameter sweep: the grid axes, fixed params and the ranking metric."""

    dataset: str
    symbol: str
    strategy: str
    grid: dict[str, GridAxis]
    fixed: dict[str, Any] = Field(default_factory=dict)
    metric: str = "sharpe"
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _check(self) -> SweepRequest:
        from core.sweep import METRICS

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
class BacktestOutcome:
    """A finished backtest with its benchmark and saved run id."""

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


@dataclass(frozen=True)
class SweepOutcome:
    """A finished sweep."""

    run_id: int | None
    request: SweepRequest
    table: pd.DataFrame
    param_names: tuple[str, ...]
    combinations: int
    seconds: float
    metric: str
    best: dict[str, Any]
    execution: str

    def top(self, n: int = 10) -> pd.DataFrame:
        """Best ``n`` rows by the request's metric."""
        from core.sweep import LOWER_IS_BETTER

        asc = self.metric in LOWER_IS_BETTER
        return self.table.sort_values(self.metric, ascending=asc, na_position="last").head(n)


def _clean_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in metrics.items():
        number = float(np.asarray(value).item()) if value is not None else float("nan")
        out[key] = number
    return out


def run_backtest(request: BacktestRequest, *, save: bool = True) -> BacktestOutcome:
    """Load data, compute positions, backtest with vectorbt, compare with buy-and-hold."""
    from core.backtest import run_backtest as engine_backtest
    from core.strategies import run_strategy

    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    if len(prices) < 30:
        raise ValueError(f"{len(prices)} bars is too few for a backtest; pick at least 30")
    check_windows(request.strategy, request.params, len(prices))
    spec = request.spec()
    positions = run_strategy(request.strategy, prices, request.params)
    regime_note = ""
    if request.regime_mode != "off":
        positions, regime_note = _apply_regimes(request, prices, positions)
    result = engine_backtest(prices, positions, spec)
    bench = engine_backtest(prices, run_strategy("buy_and_hold", prices, {}), spec)
    metrics = _clean_metrics(result.metrics)
    bench_metrics = _clean_metrics(bench.metrics)
    run_id = None
    if save:
        curves = pd.DataFrame(
            {
                "equity": result.equity,
                "benchmark": bench.equity,
                "drawdown": result.drawdown,
                "returns": result.returns,
                "benchmark_returns": bench.returns,
                "positions": result.positions,
            }
        )
        run_id = run_store.save_run(
            kind="backtest",
            title=f"{request.strategy} {request.symbol} {_param_text(request.params)}".strip(),
            spec=request.model_dump(mode="json"),
            metrics={
                **json_safe(metrics),
                "benchmark_sharpe": bench_metrics.get("sharpe"),
                "benchmark": json_safe(bench_metrics),
                "regime_note": regime_note,
            },
            frames={"curves": curves, "trades": result.trades},
        )
    return BacktestOutcome(
        run_id,
        request,
        result.equity,
        bench.equity,
        result.drawdown,
        result.returns,
        bench.returns,
        result.positions,
        result.trades,
        metrics,
        bench_metrics,
        result.execution,
        regime_note,
    )


def _apply_regimes(
    request: BacktestRequest, prices: pd.DataFrame, positions: pd.Series
) -> tuple[pd.Series, str]:
    """Gate or scale positions by forward-filtered regimes, without parameter look-ahead."""
    from core.regime import gate_positions

    history = load_prices(request.dataset, request.symbol, end=request.end)
    return gate_positions(
        positions,
        history,
        mode=request.regime_mode,  # type: ignore[arg-type]
        regimes=request.regimes,
        min_prob=request.regime_min_prob,
        train_bars=request.regime_train_bars,
    )


def _param_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def reopen_backtest(run_id: int) -> BacktestOutcome:
    """Rebuild a saved backtest from its stored artifacts (no recomputation)."""
    run = run_store.get_run(run_id)
    if run.kind != "backtest":
        raise LookupError(f"run {run_id} is a {run.kind}, not a backtest")
    curves = run_store.load_frame(run, "curves")
    trades = run_store.load_frame(run, "trades")
    request = BacktestRequest.model_validate(run.spec)
    metrics = {
        k: (float("nan") if v is None else float(v))
        for k, v in run.metrics.items()
        if v is None or isinstance(v, int | float)
    }
    stored = run.metrics.get("benchmark") or {}
    bench_metrics = {k: float("nan") if v is None else float(v) for k, v in stored.items()}
    return BacktestOutcome(
        run_id,
        request,
        curves["equity"],
        curves["benchmark"],
        curves["drawdown"],
        curves["returns"],
        curves["benchmark_returns"],
        curves["positions"],
        trades,
        metrics,
        bench_metrics,
        EXECUTION,
        str(run.metrics.get("regime_note") or ""),
    )


def run_sweep(
    request: SweepRequest, *, save: bool = True, progress: Progress | None = None
) -> SweepOutcome:
    """One vectorized sweep over the grid (fast < slow enforced for crossovers)."""
    from core.sweep import sweep

    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    check_bars(request.strategy, request.grid, request.fixed, len(prices))
    grid = {name: axis.values() for name, axis in request.grid.items()}
    constraints = grid_constraints(request.strategy, grid)
    if progress:
        progress(0.05, f"Sweeping {int(np.prod([len(v) for v in grid.values()])):,} raw combos")
    result = sweep(
        request.strategy,
        prices,
        grid,
        constraints or None,
        request.spec(),
        request.metric,
        fixed=request.fixed,
    )
    if result.combinations == 0:
        raise ValueError("no combination satisfies the constraints (e.g. fast < slow)")
    if progress:
        progress(0.9, f"{result.combinations:,} combinations in {result.seconds:.2f} s")
    best = {k: (v.item() if hasattr(v, "item") else v) for k, v in result.best().items()}
    for name in result.param_names:
        if np.issubdtype(grid[name].dtype, np.integer):
            best[name] = int(best[name])
    run_id = None
    if save:
        run_id = run_store.save_run(
            kind="sweep",
            title=f"sweep {request.strategy} {request.symbol} ({result.combinations} combos)",
            spec=request.model_dump(mode="json"),
            metrics={
                "combinations": result.combinations,
                "seconds": result.seconds,
                "best": json_safe({k: float(v) for k, v in best.items()}),
            },
            frames={"table": result.table},
        )
    if progress:
        progress(1.0, "done")
    return SweepOutcome(
        run_id,
        request,
        result.table,
        result.param_names,
        result.combinations,
        result.seconds,
        request.metric,
        best,
        result.execution,
    )


def reopen_sweep(run_id: int) -> SweepOutcome:
    """Rebuild a saved sweep from its stored table."""
    run = run_store.get_run(run_id)
    if run.kind != "sweep":
        raise LookupError(f"run {run_id} is a {run.kind}, not a sweep")
    request = SweepRequest.model_validate(run.spec)
    table = run_store.load_frame(run, "table")
    names = tuple(request.grid)
    outcome = SweepOutcome(
        run_id,
        request,
        table,
        names,
        int(run.metrics["combinations"]),
        float(run.metrics["seconds"]),
        request.metric,
        dict(run.metrics["best"]),
        EXECUTION,
    )
    return outcome


def tearsheet(outcome: BacktestOutcome) -> str:
    """quantstats HTML tear sheet of a backtest against its buy-and-hold benchmark."""
    from core.reports.tearsheet import tearsheet_html

    req = outcome.request
    title = f"{req.strategy} on {req.dataset}/{req.symbol} vs buy-and-hold"
    return tearsheet_html(outcome.returns, benchmark=outcome.benchmark_returns, title=title)


class PortfolioRequest(BacktestCosts):
    """A multi-asset book: symbols, weighting scheme and rebalancing, shared cash."""

    dataset: str
    symbols: list[str] = Field(min_length=2, max_length=25)
    weighting: Literal["equal", "inverse_vol"] = "equal"
    vol_window: int = Field(default=63, ge=5, le=504)
    gross: float = Field(default=1.0, gt=0, le=1.0, description="sum of |weights|")
    rebalance: Literal["W", "M", "none"] = "M"
    start: date | None = None
    end: date | None = None

    @field_validator("symbols")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each symbol may appear once")
        return value


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


def run_portfolio(request: PortfolioRequest, *, save: bool = True) -> PortfolioOutcome:
    """Backtest the book with shared cash (vectorbt, cash sharing, target percent)."""
    from core.backtest import run_portfolio_backtest
    from core.backtest.weights import target_weights

    frames = {
        s: load_prices(request.dataset, s, start=request.start, end=request.end)
        for s in request.symbols
    }
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).dropna()
    if len(closes) < 60:
        raise ValueError(f"the symbols share only {len(closes)} bars; pick overlapping ones")
    weights = target_weights(
        closes, weighting=request.weighting, vol_window=request.vol_window, gross=request.gross
    )
    rebalance = None if request.rebalance == "none" else request.rebalance
    result = run_portfolio_backtest(frames, weights, request.spec(), rebalance=rebalance)
    metrics = _clean_metrics(result.metrics)
    run_id = None
    if save:
        curves = pd.DataFrame({"equity": result.equity, "drawdown": result.drawdown})
        run_id = run_store.save_run(
            kind="portfolio",
            title=f"portfolio {request.weighting} {len(request.symbols)} symbols",
            spec=request.model_dump(mode="json"),
            metrics=json_safe(metrics),
            frames={"curves": curves, "weights": result.weights},
        )
    return PortfolioOutcome(
        run_id,
        request,
        result.equity,
        result.drawdown,
        result.weights,
        metrics,
        result.execution,
    )
