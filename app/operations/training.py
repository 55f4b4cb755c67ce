"""Training operations: the request to train one classifier, and its descriptor."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from app.operations.errors import RuleError
from core.serialize import json_safe

HEADLINE = ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy")
"""Out-of-sample metrics reported first (CLI payload, registry)."""


class TrainRequest(Costs):
    """What to train, on which data, how to validate, and how to trade the signal."""

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    kind: Literal["logistic", "random_forest", "xgboost"] = Field(
        title="Model", default="xgboost", description="Model: logistic, random_forest or xgboost"
    )
    params: dict[str, Any] = Field(
        title="Fixed hyperparameters",
        default_factory=dict,
        description="Fixed hyperparameter name=value (repeatable); tuning searches the others",
    )
    features: list[str] | None = Field(
        title="Features",
        default=None,
        min_length=1,
        description="Feature name (repeatable); default all",
    )
    horizon: int = Field(
        title="Horizon (bars)", default=5, ge=1, le=60, description="Label horizon in bars"
    )
    label: Literal["sign", "triple_barrier"] = Field(
        title="Label", default="sign", description="Label: sign or triple_barrier"
    )
    test_fraction: float = Field(
        title="Test fraction",
        default=0.25,
        gt=0.05,
        lt=0.8,
        description="Share of the history held out for testing",
    )
    tune: bool = Field(title="Tune", default=False, description="Tune with Optuna (TPE, seeded)")
    n_trials: int = Field(title="Trials", default=20, ge=1, le=500, description="Optuna trials")
    seed: int = Field(title="Seed", default=0, ge=0, le=2**32 - 1, description="Random seed")
    threshold: float = Field(
        title="Threshold",
        default=0.5,
        ge=0.5,
        lt=1.0,
        description="Up-probability above which to go long",
    )
    allow_short: bool = Field(
        title="Allow short positions",
        default=False,
        description="Go short when the up-probability is below 1 - threshold",
    )
    allow_lookahead: bool = Field(
        title="Allow look-ahead",
        default=False,
        description="Train even if the look-ahead check flags a feature (flagged in the output)",
    )

    @model_validator(mode="after")
    def _check(self) -> TrainRequest:
        from core.features import REGISTRY
        from core.ml.models import ModelSpec  # sklearn: imported when a request is built

        ModelSpec(kind=self.kind, params=self.params, seed=self.seed)
        unknown = sorted(set(self.features or []) - set(REGISTRY))
        if unknown:
            raise RuleError(
                f"unknown features {', '.join(unknown)}; see the feature list", "features"
            )
        return self


def train_payload(outcome: Any) -> dict[str, Any]:
    """The JSON payload of a training run."""
    ev = outcome.evaluation
    return {
        "run_id": outcome.run_id,
        "model": outcome.request.kind,
        "features": len(outcome.features),
        "trials": outcome.trials,
        "train_range": [d.isoformat() for d in outcome.train_range],
        "test_range": [d.isoformat() for d in outcome.test_range],
        **json_safe({k: ev[k] for k in HEADLINE}),
        "confusion_matrix": ev["confusion_matrix"],
        "top_features": outcome.importance.head(10).index.tolist(),
        "signal": json_safe(outcome.signal_metrics),
        "params": outcome.params,
        "lookahead": outcome.lookahead,
        "warnings": list(outcome.warnings),
    }


TRAIN = register(
    Operation(
        name="train",
        feature="training",
        summary=(
            "Train a classifier, evaluate it out of sample and backtest its signal. The "
            "look-ahead check runs on the features first (a leaky one is refused, exit 2, "
            "unless --allow-lookahead); implausible results are flagged in warnings."
        ),
        request=TrainRequest,
        service="app.services.training:train",
        payload=train_payload,
        flags={
            "kind": Flag(name="--model"),
            "features": Flag(name="--feature"),
            "params": Flag(name="--param"),
            "n_trials": Flag(name="--trials"),
        },
        long_running=True,
    )
)

__all__ = ["HEADLINE", "TRAIN", "TrainRequest", "train_payload"]
