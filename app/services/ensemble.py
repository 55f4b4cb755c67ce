"""Ensemble and retraining services (pages and CLI share these)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.services import runs as run_store
from app.services.data import load_prices
from app.services.db import get_engine
from core.serialize import json_safe
from core.store.db import session_scope
from core.store.models import RetrainDecision as DecisionRow

Selector = Literal["ucb", "thompson", "exp3", "contextual"]


class EnsembleRequest(BaseModel):
    """Agents tuned on the first ``train_bars``; the selector runs online on the rest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "ohlcv_daily"
    symbol: str = "SP500"
    selector: Selector = "contextual"
    train_fraction: float = Field(default=0.5, ge=0.2, le=0.8)
    seed: int = 0


@dataclass(frozen=True)
class EnsembleOutcome:
    """The engine result, agent performance by regime, and the saved run."""

    run_id: int | None
    request: EnsembleRequest
    result: Any  # core.ensemble.EnsembleResult
    by_regime: pd.DataFrame
    regimes: pd.Series

    def payload(self) -> dict[str, Any]:
        """JSON form for the CLI."""
        r = self.result
        return {
            **json_safe(r.summary()),
            "run_id": self.run_id,
            "execution": r.execution,
            "last_switches": [{**s, "date": str(s["date"])[:10]} for s in r.switch_log[-5:]],
        }


def run_ensemble(request: EnsembleRequest, *, save: bool = True) -> EnsembleOutcome:
    """Walk-forward ensemble evaluation with regime context from the filtered HMM."""
    from core.ensemble import evaluate_ensemble, performance_by_regime
    from core.regime import LABELS, RegimeSpec, fit_regimes

    prices = load_prices(request.dataset, request.symbol)
    train_bars = int(len(prices) * request.train_fraction)
    if len(prices) - train_bars < 100:
        raise ValueError(f"{len(prices)} bars leave too few out-of-sample bars; use more data")
    fitted = fit_regimes(prices.iloc[:train_bars], RegimeSpec(seed=request.seed))
    probs = fitted.model.fresh().filter(prices)[list(LABELS)]
    result = evaluate_ensemble(
        prices,
        selector=request.selector,
        train_bars=train_bars,
        seed=request.seed,
        regime_probs=probs,
    )
    labels = probs.idxmax(axis=1).loc[result.returns.index]
    agent_cols = [a.name for a in result.agents]
    by_regime = performance_by_regime(result.returns[agent_cols], labels)
    run_id = None
    if save:
        summary = {
            k: v
            for k, v in EnsembleOutcome(None, request, result, by_regime, labels).payload().items()
            if k not in ("agents", "last_switches")
        }
        run_id = run_store.save_run(
            kind="ensemble",
            title=f"ensemble {request.selector} {request.symbol}",
            spec=request.model_dump(mode="json"),
            metrics=summary,
            frames={
                "returns": result.returns,
                "weights": result.weights,
                "regret": result.regret_curve.to_frame("regret"),
                "by_regime": by_regime,
            },
        )
    return EnsembleOutcome(run_id, request, result, by_regime, labels)


class ReplayRequest(BaseModel):
    """What the retraining policy would have done over history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str = "ohlcv_daily"
    symbol: str = "SP500"
    metric: Literal["sharpe", "total_return", "hit_rate"] = "sharpe"
    threshold: float = 0.0
    window_bars: int = Field(default=126, ge=20, le=2000)
    min_samples: int = Field(default=63, ge=20, le=2000)
    cooldown_bars: int = Field(default=63, ge=0, le=2000)
    rollback_window_bars: int = Field(default=63, ge=20, le=2000)
    promote_rule: Literal["significant", "metric"] = "significant"
    model: Literal["ma_crossover", "logistic", "random_forest", "xgboost"] = "ma_crossover"


def replay_name(request: ReplayRequest) -> str:
    """The name under which a replay's decisions are recorded."""
    prefix = "replay:" if request.model == "ma_crossover" else f"replay:{request.model}:"
    return f"{prefix}{request.dataset}/{request.symbol}"


def replay_retraining(request: ReplayRequest, *, save: bool = True) -> list[dict[str, Any]]:
    """Replay the policy with a re-tuned moving-average crossover or a retrained ML
    classifier as the model; every decision is recorded (``replay=True``) with its numbers."""
    from core.retrain import RetrainPolicy, replay_policy

    prices = load_prices(request.dataset, request.symbol)
    policy = RetrainPolicy(
        metric=request.metric,
        threshold=request.threshold,
        window_bars=request.window_bars,
        min_samples=min(request.min_samples, request.window_bars),
        cooldown_bars=request.cooldown_bars,
        rollback_window_bars=request.rollback_window_bars,
        promote_rule=request.promote_rule,
    )
    factory = None
    if request.model != "ma_crossover":
        from core.retrain.ml_factory import ml_signal_factory

        factory = ml_signal_factory(request.model)
    decisions = replay_policy(prices, policy, model_factory=factory)
    rows = [_decision_dict(d) for d in decisions]
    if save:
        name = replay_name(request)
        with session_scope(get_engine()) as session:
            for d in rows:
                session.add(
                    DecisionRow(
                        model_name=name,
                        as_of=date.fromisoformat(d["as_of"]),
                        trigger=d["trigger"],
                        decision=d["decision"],
                        champion_version_id=None,
                        challenger_version_id=None,
                        reason=d["reason"],
                        numbers={
                            **d["numbers"],
                            "champion": d["champion_id"],
                            "challenger": d["challenger_id"],
                        },
                        replay=True,
                    )
                )
    return rows


def _decision_dict(decision: Any) -> dict[str, Any]:
    raw = decision.as_dict()
    raw["as_of"] = str(pd.Timestamp(raw["as_of"]).date())
    raw["numbers"] = json_safe(raw["numbers"])
    return raw


def decision_history(limit: int = 500) -> list[dict[str, Any]]:
    """Recorded retraining decisions, newest first."""
    with session_scope(get_engine()) as session:
        rows = session.scalars(select(DecisionRow).order_by(DecisionRow.id.desc()).limit(limit))
        return [
            {
                "id": r.id,
                "model": r.model_name,
                "as_of": r.as_of.isoformat(),
                "decision": r.decision,
                "trigger": r.trigger,
                "reason": r.reason,
                "replay": r.replay,
                "numbers": r.numbers,
            }
            for r in rows
        ]
