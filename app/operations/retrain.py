"""The retraining replay: its request, its outcome with the JSON payload, and the descriptor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from app.operations import Flag, Operation, register
from app.operations.costs import Costs
from core.backtest.spec import BacktestSpec
from core.retrain._kinds import ReplayModel
from core.serialize import json_safe

if TYPE_CHECKING:  # the policy and the replay import scipy and pandas: only when used
    from core.retrain import RetrainDecision, RetrainPolicy

DECISIONS = ("promoted", "kept", "rolled_back")


class ReplayRequest(Costs):
    """What the retraining policy would have done over the history of one symbol."""

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    metric: Literal["sharpe", "total_return", "hit_rate"] = Field(
        title="Health metric",
        default="sharpe",
        description="Champion health metric: sharpe, total_return, hit_rate",
    )
    threshold: float = Field(
        title="Retrain threshold",
        default=0.0,
        ge=-1e6,
        le=1e6,
        description="Retrain when the metric falls below this (in the metric's units)",
    )
    window_bars: int = Field(
        title="Window (bars)", default=126, ge=20, le=2000, description="Rolling window (bars)"
    )
    min_samples: int = Field(
        title="Minimum samples (bars)",
        default=63,
        ge=20,
        le=2000,
        description="Bars in the window before the metric is trusted (capped at the window)",
    )
    cooldown_bars: int = Field(
        title="Cooldown (bars)", default=63, ge=0, le=2000, description="Bars between retrains"
    )
    rollback_window_bars: int = Field(
        title="Probation (bars)",
        default=63,
        ge=20,
        le=2000,
        description="Probation of a promoted model (bars)",
    )
    promote_rule: Literal["significant", "metric"] = Field(
        title="Promotion rule",
        default="significant",
        description="significant (A/B primary test) or metric (a better metric is enough)",
    )
    model: ReplayModel = Field(
        title="Model",
        default="ma_crossover",
        description="Model retrained: ma_crossover, logistic, random_forest or xgboost",
    )

    def policy(self) -> RetrainPolicy:
        """The engine's policy (``min_samples`` capped at the window)."""
        from core.retrain import RetrainPolicy

        return RetrainPolicy.within_window(
            metric=self.metric,
            threshold=self.threshold,
            window_bars=self.window_bars,
            min_samples=self.min_samples,
            cooldown_bars=self.cooldown_bars,
            rollback_window_bars=self.rollback_window_bars,
            promote_rule=self.promote_rule,
        )

    def spec(self) -> BacktestSpec:
        """The costs the replayed models trade at."""
        return BacktestSpec(fees=self.fees, slippage=self.slippage)

    def name(self) -> str:
        """The name under which this replay's decisions are recorded."""
        from core.retrain import replay_model_name

        return replay_model_name(self.dataset, self.symbol, self.model)


def decision_row(decision: RetrainDecision) -> dict[str, Any]:
    """One decision as JSON (``as_of`` as YYYY-MM-DD, numbers JSON-safe)."""
    import pandas as pd

    raw = decision.as_dict()
    raw["as_of"] = str(pd.Timestamp(raw["as_of"]).date())
    raw["numbers"] = json_safe(raw["numbers"])
    return raw


@dataclass(frozen=True)
class ReplayOutcome:
    """The decisions of a replay, as recorded under :attr:`name`."""

    request: ReplayRequest
    rows: list[dict[str, Any]]

    @property
    def name(self) -> str:
        """The recorded model name (``replay:<dataset>/<symbol>``)."""
        return self.request.name()

    @property
    def counts(self) -> dict[str, int]:
        """Decisions of each kind (every kind, zero when absent)."""
        return {k: sum(r["decision"] == k for r in self.rows) for k in DECISIONS}


def replay_payload(outcome: ReplayOutcome) -> dict[str, Any]:
    """The JSON payload of a replay: every decision, the counts and the name the
    decisions are recorded under (the replay saves no run; the payload is its result)."""
    return {"decisions": outcome.rows, "counts": outcome.counts, "model_name": outcome.name}


def _replay_text(outcome: ReplayOutcome, payload: dict[str, Any]) -> str:
    return "\n".join(f"{r['as_of']} {r['decision']:<11} {r['reason']}" for r in outcome.rows)


RETRAIN_REPLAY = register(
    Operation(
        name="retrain replay",
        feature="retrain",
        summary="What the retraining policy would have done over history (decisions recorded).",
        request=ReplayRequest,
        service="app.services.retrain:replay_retraining",
        payload=replay_payload,
        text=_replay_text,
        flags={"window_bars": Flag(name="--window"), "cooldown_bars": Flag(name="--cooldown")},
        long_running=True,
    )
)

__all__ = [
    "DECISIONS",
    "RETRAIN_REPLAY",
    "ReplayOutcome",
    "ReplayRequest",
    "decision_row",
    "replay_payload",
]
