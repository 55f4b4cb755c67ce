"""Ensemble evaluation: its request, its outcome with the JSON payload, and the descriptor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from app.operations import Operation, register
from app.operations.costs import Costs
from core.backtest.spec import BacktestSpec
from core.ensemble.spec import EnsembleSpec, SelectorName
from core.serialize import json_safe

if TYPE_CHECKING:  # the engine's result holds pandas objects
    import pandas as pd

    from core.ensemble import EnsembleResult


class EnsembleRequest(Costs):
    """Agents tuned on the first ``train_fraction`` of the bars; the selector runs online
    on the rest, with regime context from the HMM fitted on the same training bars."""

    dataset: str = Field(title="Dataset", default="ohlcv_daily", description="Dataset name")
    symbol: str = Field(title="Symbol", default="SP500", description="Symbol in the dataset")
    selector: SelectorName = Field(
        title="Selector",
        default="contextual",
        description="Meta-selector: ucb, thompson, exp3 or contextual (UCB by regime)",
    )
    train_fraction: float = Field(
        title="Training fraction",
        default=0.5,
        ge=0.2,
        le=0.8,
        description="Share of the bars that tune the agents and fit the regime model",
    )
    seed: int = Field(
        title="Seed",
        default=0,
        ge=0,
        le=2**32 - 1,
        description="Random seed of the selector and the HMM",
    )

    def spec(self) -> EnsembleSpec:
        """The engine's spec (this request's costs, default selector settings)."""
        return EnsembleSpec(backtest=BacktestSpec(fees=self.fees, slippage=self.slippage))


@dataclass(frozen=True)
class EnsembleOutcome:
    """The engine result, agent performance by regime, and the saved run."""

    run_id: int | None
    request: EnsembleRequest
    result: EnsembleResult
    by_regime: pd.DataFrame
    regimes: pd.Series

    def payload(self) -> dict[str, Any]:
        """JSON form: headline numbers, agents, execution and the last five switches."""
        r = self.result
        return {
            **json_safe(r.summary()),
            "run_id": self.run_id,
            "execution": r.execution,
            "last_switches": [{**s, "date": str(s["date"])[:10]} for s in r.switch_log[-5:]],
        }

    def run_metrics(self) -> dict[str, Any]:
        """What the saved run keeps as its metrics (the payload without lists)."""
        return {k: v for k, v in self.payload().items() if k not in ("agents", "last_switches")}


def ensemble_payload(outcome: EnsembleOutcome) -> dict[str, Any]:
    """The JSON payload of an ensemble evaluation."""
    return outcome.payload()


def _ensemble_text(outcome: EnsembleOutcome, payload: dict[str, Any]) -> str:
    return (
        f"{payload['selector']}: ensemble Sharpe {payload['ensemble_sharpe']:.3f}, best single "
        f"({payload['best_agent']}) {payload['best_single_sharpe']:.3f}, equal weight "
        f"{payload['equal_weight_sharpe']:.3f}; regret {payload['regret']:.3f}; "
        f"{payload['switches']} switches"
    )


ENSEMBLE_EVAL = register(
    Operation(
        name="ensemble eval",
        feature="ensemble",
        summary="Walk-forward ensemble vs the best single agent and equal weights.",
        request=EnsembleRequest,
        service="app.services.ensemble:run_ensemble",
        payload=ensemble_payload,
        text=_ensemble_text,
        long_running=True,
    )
)

__all__ = ["ENSEMBLE_EVAL", "EnsembleOutcome", "EnsembleRequest", "ensemble_payload"]
