"""Walk-forward validation and look-ahead checks (pages and CLI share these)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import ConfigDict, Field, model_validator

from app.operations.costs import Costs
from app.services import runs as run_store
from app.services.data import load_prices
from app.services.research import GridAxis
from core.serialize import json_safe

Progress = Callable[[float, str], None]

DSR_EXPLAINED = (
    "Deflated Sharpe ratio: the probability that the out-of-sample Sharpe is above zero "
    "after correcting for the number of configurations tried and for fat tails "
    "(significant at 0.95). Trials are counted raw: every grid combination (or tuning "
    "trial) counts, correlated ones included; the Sharpe dispersion comes from the "
    "trials' own out-of-sample Sharpe ratios."
)
PBO_EXPLAINED = (
    "Probability of backtest overfitting: how often the configuration that was best in "
    "sample ranks below the median out of sample (0.5 or more means selection is no "
    "better than chance)."
)


class WalkForwardRequest(Costs):
    """Fold layout plus either a rule strategy with a grid or an ML model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "ohlcv_daily"
    symbol: str = "SP500"
    mode: Literal["rolling", "anchored"] = "rolling"
    train_bars: int = Field(default=1000, ge=100)
    test_bars: int = Field(default=250, ge=20)
    step_bars: int | None = None
    folds: int | None = Field(default=None, ge=1, le=100)
    strategy: str | None = None
    grid: dict[str, GridAxis] = Field(default_factory=dict)
    model: Literal["logistic", "random_forest", "xgboost"] | None = None
    features: list[str] | None = None
    horizon: int = Field(default=5, ge=1, le=60)
    threshold: float = Field(default=0.5, ge=0.5, lt=1)
    retune: bool = False
    n_trials: int = Field(default=10, ge=1, le=200)
    metric: str = "sharpe"
    allow_lookahead: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> WalkForwardRequest:
        if (self.strategy is None) == (self.model is None):
            raise ValueError("choose either a strategy with a grid or a model, not both")
        if self.strategy is not None and not self.grid:
            raise ValueError("a rule walk-forward needs a grid, e.g. fast=5:50:5")
        return self


@dataclass(frozen=True)
class WalkForwardOutcome:
    """The engine's result and the saved run id."""

    run_id: int | None
    request: WalkForwardRequest
    result: Any  # core.ml.WalkForwardResult

    def payload(self) -> dict[str, Any]:
        """JSON form for the CLI: folds, Sharpe in and out of sample, DSR, PBO, trials."""
        folds = self.result.folds.copy()
        for column in folds.columns:
            if pd.api.types.is_datetime64_any_dtype(folds[column]):
                folds[column] = folds[column].dt.date.astype(str)
        rows = [
            {k: json_safe(v) for k, v in row.items()} for row in folds.to_dict(orient="records")
        ]
        return {
            "folds": rows,
            "warnings": list(self.result.warnings),
            "lookahead": json_safe(self.result.lookahead),
            "oos_sharpe": json_safe(self.result.oos_sharpe),
            "oos_auc": json_safe(self.result.oos_auc),
            "is_sharpe": json_safe(self.result.is_sharpe),
            "deflated_sharpe": json_safe(self.result.deflated_sharpe),
            "pbo": json_safe(self.result.pbo),
            "trials": int(self.result.trials),
            "trial_counting": self.result.trial_counting,
            "effective_trials": json_safe(self.result.dsr.get("effective_trials")),
            "oos_return": json_safe(self.result.oos_return),
            "seconds": round(float(self.result.seconds), 3),
            "run_id": self.run_id,
        }


def run_walkforward(
    request: WalkForwardRequest, *, progress: Progress | None = None, save: bool = True
) -> WalkForwardOutcome:
    """Run a rule or model walk-forward and save its folds and stitched equity."""
    from core.backtest.spec import BacktestSpec
    from core.ml import ModelSpec, WalkForwardSpec, walk_forward_model, walk_forward_rule

    prices = load_prices(request.dataset, request.symbol)
    spec = WalkForwardSpec(
        mode=request.mode,
        train_bars=request.train_bars,
        test_bars=request.test_bars,
        step_bars=request.step_bars,
        folds=request.folds,
    )
    costs = BacktestSpec(fees=request.fees, slippage=request.slippage)
    if request.strategy is not None:
        grid = {name: axis.values() for name, axis in request.grid.items()}
        constraints = [lambda p: p["fast"] < p["slow"]] if {"fast", "slow"} <= set(grid) else None
        result = walk_forward_rule(
            prices,
            request.strategy,
            grid,
            spec,
            costs,
            request.metric,
            constraints=constraints,
            progress=progress,
        )
        title = f"walk-forward {request.strategy} {request.symbol}"
    else:
        model_spec = ModelSpec(kind=request.model, seed=0)  # type: ignore[arg-type]
        features: Any = request.features
        if features is None:
            from core.features import available_features

            features = available_features(prices.columns)
        result = walk_forward_model(
            prices,
            features,
            model_spec,
            spec,
            horizon=request.horizon,
            threshold=request.threshold,
            backtest_spec=costs,
            retune=request.retune,
            n_trials=request.n_trials,
            allow_lookahead=request.allow_lookahead,
            progress=progress,
        )
        title = f"walk-forward {request.model} {request.symbol}"
    outcome = WalkForwardOutcome(None, request, result)
    if not save:
        return outcome
    folds = result.folds.copy()
    folds["params"] = folds["params"].astype(str) if "params" in folds else ""
    run_id = run_store.save_run(
        kind="walkforward",
        title=title,
        spec=request.model_dump(mode="json"),
        metrics={k: v for k, v in outcome.payload().items() if k != "folds"},
        frames={
            "folds": folds,
            "oos": pd.DataFrame({"equity": result.oos_equity, "returns": result.oos_returns}),
        },
    )
    return WalkForwardOutcome(run_id, request, result)


def report_html(outcome: WalkForwardOutcome) -> str:
    """A self-contained HTML export (plotly.js embedded, works offline): summary,
    explanations, fold table and OOS equity."""
    import plotly.graph_objects as go

    r = outcome.result
    fig = go.Figure(go.Scatter(x=r.oos_equity.index, y=r.oos_equity, name="OOS equity"))
    fig.update_layout(title="Stitched out-of-sample equity", height=420)
    pbo = "n/a (no grid of alternatives for a model)" if r.pbo is None else f"{r.pbo:.3f}"
    auc = "" if r.oos_auc is None else f"<li>Out-of-sample AUC (stitched): {r.oos_auc:.3f}</li>"
    check = (
        ""
        if r.lookahead is None
        else f"<li>Look-ahead check: {html.escape(r.lookahead['message'])}</li>"
    )
    warnings = "".join(
        "<div class='warning' style='border:2px solid #c62828;background:#fdecea;"
        f"padding:8px;margin:8px 0'><b>WARNING:</b> {html.escape(w)}</div>"
        for w in r.warnings
    )
    summary = (
        f"{warnings}<ul><li>In-sample Sharpe (mean of folds): {r.is_sharpe:.3f}</li>"
        f"<li>Out-of-sample Sharpe (stitched): {r.oos_sharpe:.3f}</li>{auc}"
        f"<li>Deflated Sharpe ratio: {r.deflated_sharpe:.3f} over {r.trials} trials "
        f"({html.escape(r.trial_counting)}). "
        f"{DSR_EXPLAINED}</li><li>PBO: {pbo}. {PBO_EXPLAINED}</li>{check}</ul>"
    )
    table = r.folds.to_html(index=False, float_format=lambda x: f"{x:.4f}")
    title = f"Walk-forward report: {outcome.request.symbol}"
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
        f"<h1>{title}</h1>{summary}{fig.to_html(full_html=False, include_plotlyjs=True)}"
        f"<h2>Folds</h2>{table}</body></html>"
    )


LEAKY_DEMO = "leaky_next_close"


def lookahead(
    *,
    dataset: str,
    symbol: str,
    strategy: str | None = None,
    params: dict[str, Any] | None = None,
    features: list[str] | None = None,
    include_leaky_demo: bool = False,
    cuts: int = 20,
    seed: int = 0,
) -> Any:
    """Run a strategy or a feature set on truncated data and flag changing bars."""
    from core.features import available_features, compute_features
    from core.ml import lookahead_check
    from core.strategies import run_strategy

    prices = load_prices(dataset, symbol)
    if strategy is not None:

        def fn(frame: pd.DataFrame) -> pd.DataFrame:
            return run_strategy(strategy, frame, params or {}).rename(strategy).to_frame()
    else:
        names = features or available_features(prices.columns)

        def fn(frame: pd.DataFrame) -> pd.DataFrame:
            out = compute_features(frame, names)
            if include_leaky_demo:
                out[LEAKY_DEMO] = frame["close"].shift(-1) / frame["close"] - 1
            return out

    return lookahead_check(fn, prices, cuts=cuts, seed=seed)
