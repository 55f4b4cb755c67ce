"""Research services: backtests, sweeps and tear sheets (pages and CLI share these)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.operations.backtest import BacktestCosts, BacktestRequest
from app.services import runs as run_store
from app.services.data import load_prices
from core.backtest.spec import EXECUTION
from core.serialize import json_safe
from core.strategies import STRATEGIES
from core.strategies.catalog import ParamRangeError, check_param, check_windows, param_specs

Progress = Callable[[float, str], None]
MAX_COMBINATIONS = 200_000
"""Most combinations one sweep may have (and most points on one grid axis)."""


class GridAxis(BaseModel):
    """An inclusive numeric range ``start:stop:step`` of finite numbers.

    Its length is computed arithmetically and capped at :data:`MAX_COMBINATIONS` before
    any point is built, so ``1:1e15:1`` is refused instantly instead of allocating.

    >>> GridAxis.parse("5:100:5").count
    20
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    start: float
    stop: float
    step: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> GridAxis:
        form = f"{_g(self.start)}:{_g(self.stop)}:{_g(self.step)}"
        if self.stop < self.start:
            raise ValueError(f"{form}: stop {self.stop} is below start {self.start}")
        span = (self.stop - self.start) / self.step
        if not math.isfinite(span) or span + 1 > MAX_COMBINATIONS:
            points = f"{math.floor(span) + 1:,}" if span < 1e12 else f"{span:.3g}"
            points = points if math.isfinite(span) else "too many"
            raise ValueError(
                f"{form} has {points} points, more than the cap of {MAX_COMBINATIONS:,}; "
                "use a larger step or a narrower range"
            )
        scale = max(abs(self.start), abs(self.stop))
        if self.stop > self.start and self.step <= scale * 1e-12:
            raise ValueError(f"{form}: step {_g(self.step)} is too small for values this large")
        return self

    @property
    def count(self) -> int:
        """Number of grid points, without building them."""
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    def values(self) -> np.ndarray:
        """The grid points, integers when all three bounds are integers."""
        points = self.start + self.step * np.arange(self.count)
        bounds = (self.start, self.stop, self.step)
        if all(float(v).is_integer() for v in bounds) and max(map(abs, bounds)) < 2**53:
            return points.astype(np.int64)
        return np.round(points, 10) if max(map(abs, bounds)) < 1e15 else points

    @classmethod
    def parse(cls, text: str) -> GridAxis:
        """Parse ``start:stop:step`` (step defaults to 1)."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"grid range {text!r} must look like start:stop:step, e.g. 5:100:5")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"grid range {text!r} must contain numbers, e.g. 5:100:5") from None
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"grid range {text!r} must contain finite numbers, e.g. 5:100:5")
        return cls(start=numbers[0], stop=numbers[1], step=numbers[2] if len(numbers) == 3 else 1)


def _g(value: float) -> str:
    return f"{value:g}"


def check_grid(strategy: str, grid: dict[str, GridAxis]) -> int:
    """Check every axis against its parameter's declared type and range; return the
    number of raw combinations (refused above :data:`MAX_COMBINATIONS`)."""
    specs = param_specs(strategy)
    unknown = sorted(set(grid) - set(specs))
    if unknown:
        raise ValueError(f"{strategy} has no parameters {unknown}; use {sorted(specs)}")
    if not grid:
        raise ValueError("the grid needs at least one parameter range")
    for name, axis in grid.items():
        spec = specs[name]
        form = f"{name}={_g(axis.start)}:{_g(axis.stop)}:{_g(axis.step)}"
        if spec.kind not in ("int", "float"):
            raise ValueError(f"grid {form}: {name} is {spec.describe()}, not a numeric range")
        if spec.kind == "int" and not (
            float(axis.start).is_integer() and float(axis.step).is_integer()
        ):
            raise ValueError(
                f"grid {form}: {name} is an integer parameter; use integer start and step, "
                f"e.g. {name}=5:100:5"
            )
        last = axis.start + axis.step * (axis.count - 1)
        if not (spec.contains(axis.start) and spec.contains(last)):
            raise ValueError(
                f"grid {form} goes outside the valid range: {name} must be {spec.describe()}"
            )
    total = math.prod(axis.count for axis in grid.values())
    if total > MAX_COMBINATIONS:
        sizes = " x ".join(f"{axis.count:,} {name}" for name, axis in grid.items())
        raise ValueError(
            f"{total:,} combinations exceed {MAX_COMBINATIONS:,} ({sizes}); use larger steps"
        )
    return total


def _check_bars(strategy: str, grid: dict[str, GridAxis], fixed: dict[str, Any], bars: int) -> None:
    """Refuse window values (swept or fixed) longer than the data."""
    for name in STRATEGIES[strategy].windows:
        if name in grid:
            axis = grid[name]
            longest = axis.start + axis.step * (axis.count - 1)
        elif name in fixed:
            longest = fixed[name]
        else:
            continue
        if longest > bars:
            raise ParamRangeError(
                name,
                f"{_g(longest)} bars is longer than the {bars} bars of data; "
                f"{name} must be an integer in [1, {bars}] (bars)",
            )


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
        from core.backtest.sweep import METRICS

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
        from core.backtest.sweep import LOWER_IS_BETTER

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
    from core.regime import RegimeSpec, fit_regimes
    from core.strategies import confidence_scale, regime_filter

    history = load_prices(request.dataset, request.symbol, end=request.end)
    before = history.loc[history.index < prices.index[0]]
    flat_until = None
    if len(before) >= request.regime_train_bars:
        train = before.iloc[-request.regime_train_bars :]
    else:
        train = history.iloc[: request.regime_train_bars]
        flat_until = train.index[-1]
        if len(history) - len(train) < 30:
            raise ValueError(
                f"regime filter needs {request.regime_train_bars} training bars plus a test "
                "window; pick a later start date or lower regime_train_bars"
            )
    fitted = fit_regimes(train, RegimeSpec(method="hmm", seed=0))
    probs = fitted.model.fresh().filter(history).reindex(prices.index)
    if request.regime_mode == "filter":
        gated = regime_filter(positions, probs, set(request.regimes), request.regime_min_prob)
        what = f"trade only in {', '.join(request.regimes)} with P >= {request.regime_min_prob}"
    else:
        gated = confidence_scale(positions, probs.max(axis=1))
        what = "positions scaled by regime confidence"
    if flat_until is not None:
        gated = gated.where(gated.index > flat_until, 0.0)
    note = (
        f"Regime {request.regime_mode}: {what}; HMM fitted on {len(train)} bars "
        f"{train.index[0].date()}..{train.index[-1].date()}, filtered forward with fixed "
        "parameters" + (f"; flat until {flat_until.date()} (training bars)" if flat_until else "")
    )
    return gated.rename(positions.name), note


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
    from core.backtest.sweep import sweep

    prices = load_prices(request.dataset, request.symbol, start=request.start, end=request.end)
    _check_bars(request.strategy, request.grid, request.fixed, len(prices))
    grid = {name: axis.values() for name, axis in request.grid.items()}
    constraints = []
    if {"fast", "slow"} <= set(grid):
        constraints.append(lambda p: p["fast"] < p["slow"])
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


def target_weights(closes: pd.DataFrame, request: PortfolioRequest) -> pd.DataFrame:
    """Causal target weights at each close: equal, or inverse trailing volatility."""
    if request.weighting == "equal":
        raw = pd.DataFrame(1.0, index=closes.index, columns=closes.columns)
    else:
        vol = np.log(closes).diff().rolling(request.vol_window).std()
        raw = 1.0 / vol
    weights = raw.div(raw.sum(axis=1), axis=0) * request.gross
    return weights.fillna(0.0)


def run_portfolio(request: PortfolioRequest, *, save: bool = True) -> PortfolioOutcome:
    """Backtest the book with shared cash (vectorbt, cash sharing, target percent)."""
    from core.backtest import run_portfolio_backtest

    frames = {
        s: load_prices(request.dataset, s, start=request.start, end=request.end)
        for s in request.symbols
    }
    closes = pd.DataFrame({s: f["close"] for s, f in frames.items()}).dropna()
    if len(closes) < 60:
        raise ValueError(f"the symbols share only {len(closes)} bars; pick overlapping ones")
    weights = target_weights(closes, request)
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
