"""Walk-forward operation: its request, its JSON payload and its descriptor."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from app.operations.errors import RuleError
from app.operations.fields import check_strategy_params
from core.serialize import json_safe
from core.sweep.grid import GridAxis, check_grid
from core.sweep.result import METRICS

ModelKind = Literal["logistic", "random_forest", "xgboost"]


class WalkForwardRequest(Costs):
    """Fold layout plus either a rule strategy with a grid or an ML model.

    A rule walk-forward picks, on each fold's training window, the grid point that
    maximizes ``metric`` and trades it on the test window; a model walk-forward fits
    ``model`` on ``features`` (every available feature by default) instead.
    """

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    strategy: str | None = Field(
        title="Strategy",
        default=None,
        description="Rule strategy to optimize",
        json_schema_extra={"choices": "core.strategies:STRATEGIES"},
    )
    grid: dict[str, GridAxis] = Field(
        title="Grid", default_factory=dict, description="name=start:stop:step (repeatable)"
    )
    model: ModelKind | None = Field(
        title="Model", default=None, description="Or: logistic|random_forest|xgboost"
    )
    features: list[str] | None = Field(
        title="Features",
        default=None,
        description="Model feature (repeatable; default: every available one)",
    )
    folds: int | None = Field(
        title="Folds", default=None, ge=1, le=100, description="Keep the latest K folds"
    )
    mode: Literal["rolling", "anchored"] = Field(
        title="Mode", default="rolling", description="rolling or anchored"
    )
    train_bars: int = Field(
        title="Train bars",
        default=1000,
        ge=100,
        description="Training bars per fold (the first fold when anchored)",
    )
    test_bars: int = Field(
        title="Test bars", default=250, ge=20, description="Out-of-sample bars per fold"
    )
    step_bars: int | None = Field(
        title="Step (bars)",
        default=None,
        ge=1,
        description="Bars between test starts (default and minimum: test bars)",
    )
    retune: bool = Field(
        title="Re-tune", default=False, description="Re-tune the model on every fold"
    )
    n_trials: int = Field(
        title="Trials per fold",
        default=10,
        ge=1,
        le=200,
        description="Tuning trials per fold (--retune)",
    )
    horizon: int = Field(
        title="Horizon (bars)",
        default=5,
        ge=1,
        le=60,
        description="Label horizon of the model (bars)",
    )
    threshold: float = Field(
        title="Threshold",
        default=0.5,
        ge=0.5,
        lt=1,
        description="Probability above which the model goes long",
    )
    metric: str = Field(
        title="Pick by",
        default="sharpe",
        description="In-sample metric that picks each fold's grid point",
        json_schema_extra={"choices": "core.sweep:METRICS"},
    )
    allow_lookahead: bool = Field(
        title="Allow look-ahead",
        default=False,
        description="Run even if the look-ahead check flags a feature (flagged in the output)",
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; choose one of {', '.join(METRICS)}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> WalkForwardRequest:
        if (self.strategy is None) == (self.model is None):
            raise RuleError("choose either a strategy with a grid or a model, not both", "strategy")
        if self.step_bars is not None and self.step_bars < self.test_bars:
            raise RuleError(
                f"step_bars {self.step_bars} is below test_bars {self.test_bars}: choose "
                f"{self.test_bars} or more (overlapping test windows cannot be stitched into "
                "one out-of-sample track)",
                "step_bars",
            )
        if self.strategy is not None:
            from core.strategies import STRATEGIES  # the catalog imports pandas

            if self.strategy not in STRATEGIES:
                raise RuleError(
                    f"unknown strategy {self.strategy!r}; choose one of "
                    f"{', '.join(sorted(STRATEGIES))}",
                    "strategy",
                )
            if not self.grid:
                raise RuleError("a rule walk-forward needs a grid, e.g. fast=5:50:5", "grid")
            check_grid(self.strategy, self.grid)
        return self


def walkforward_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a walk-forward: folds, Sharpe in and out of sample, DSR, PBO."""
    import pandas as pd

    result = outcome.result
    folds = result.folds.copy()
    for column in folds.columns:
        if pd.api.types.is_datetime64_any_dtype(folds[column]):
            folds[column] = folds[column].dt.date.astype(str)
    rows = [{k: json_safe(v) for k, v in row.items()} for row in folds.to_dict(orient="records")]
    return {
        "folds": rows,
        "warnings": list(result.warnings),
        "lookahead": json_safe(result.lookahead),
        "oos_sharpe": json_safe(result.oos_sharpe),
        "oos_auc": json_safe(result.oos_auc),
        "is_sharpe": json_safe(result.is_sharpe),
        "deflated_sharpe": json_safe(result.deflated_sharpe),
        "pbo": json_safe(result.pbo),
        "trials": int(result.trials),
        "trial_counting": result.trial_counting,
        "effective_trials": json_safe(result.dsr.get("effective_trials")),
        "oos_return": json_safe(result.oos_return),
        "seconds": round(float(result.seconds), 3),
        "run_id": outcome.run_id,
    }


WALKFORWARD = register(
    Operation(
        name="walkforward",
        feature="walkforward",
        summary=(
            "Walk-forward validation with deflated Sharpe and PBO. Model walk-forwards first "
            "run the look-ahead check on their features and refuse a leaky one (exit 2) unless "
            "--allow-lookahead. Implausible out-of-sample results (AUC >= 0.9, Sharpe >= 4) "
            "are flagged in warnings."
        ),
        request=WalkForwardRequest,
        service="app.services.walkforward:run_walkforward",
        payload=walkforward_payload,
        flags={"n_trials": Flag(name="--trials"), "features": Flag(name="--feature")},
        long_running=True,
    )
)


class LookaheadRequest(BaseModel):
    """A strategy's positions, or a feature set, to recompute on truncated data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    strategy: str | None = Field(
        title="Strategy",
        default=None,
        description="Strategy to check (default: the features)",
        json_schema_extra={"choices": "core.strategies:STRATEGIES"},
    )
    params: dict[str, Any] = Field(
        title="Parameters",
        default_factory=dict,
        description="Strategy parameter name=value (repeatable)",
    )
    features: list[str] | None = Field(
        title="Features",
        default=None,
        min_length=1,
        description="Feature (repeatable); default all",
    )
    include_leaky_demo: bool = Field(
        title="Leaky demo feature",
        default=False,
        description="Add a deliberately leaky feature (must be flagged)",
    )
    cuts: int = Field(
        title="Truncation points", default=20, ge=1, le=500, description="Truncation points"
    )
    seed: int = Field(
        title="Seed", default=0, ge=0, le=2**32 - 1, description="Seed of the truncation points"
    )

    @model_validator(mode="after")
    def _check(self) -> LookaheadRequest:
        from core.features import REGISTRY  # pandas: only when a request is built
        from core.strategies import STRATEGIES

        if self.strategy is not None:
            if self.strategy not in STRATEGIES:
                raise RuleError(
                    f"unknown strategy {self.strategy!r}; choose one of "
                    f"{', '.join(sorted(STRATEGIES))}",
                    "strategy",
                )
            check_strategy_params(self.strategy, self.params)
        unknown = sorted(set(self.features or []) - set(REGISTRY))
        if unknown:
            raise RuleError(
                f"unknown features {', '.join(unknown)}; see the feature list", "features"
            )
        return self


def lookahead_payload(report: Any) -> dict[str, Any]:
    """The JSON payload of a look-ahead check (a ``LookaheadReport``)."""
    return {
        "leaky": report.leaky,
        "offending_columns": list(report.offending_columns),
        "first_offending_bars": {k: str(v) for k, v in report.first_offending_bars.items()},
        "cuts": len(report.cuts),
        "message": report.message(),
    }


LOOKAHEAD = register(
    Operation(
        name="lookahead-check",
        feature="walkforward",
        summary="Flag any bar whose value changes when later bars are added. Exit 1 if leaky.",
        request=LookaheadRequest,
        service="app.services.walkforward:lookahead",
        payload=lookahead_payload,
        text=lambda report, _payload: str(report.message()),
        flags={
            "params": Flag(name="--param"),
            "features": Flag(name="--feature"),
            "include_leaky_demo": Flag(name="--include-leaky-demo/--no-leaky-demo"),
        },
    )
)

__all__ = [
    "LOOKAHEAD",
    "WALKFORWARD",
    "LookaheadRequest",
    "ModelKind",
    "WalkForwardRequest",
    "lookahead_payload",
    "walkforward_payload",
]
