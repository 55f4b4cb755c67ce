"""What an ensemble run stores so that it reopens whole (:func:`ensemble_frames`), and
reopening it as the outcome the Ensemble page renders (:func:`reopen_ensemble`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd

from app.services.runs import get_run_of_kind, load_frame, stored_number
from core.serialize import json_safe

if TYPE_CHECKING:
    from app.operations.ensemble import EnsembleOutcome
    from core.ensemble.evaluate import EnsembleResult


def ensemble_frames(result: EnsembleResult, regimes: pd.Series) -> dict[str, pd.DataFrame]:
    """What an ensemble run stores besides its curves, so that it reopens whole: the agents,
    each out-of-sample bar's explanation, position and regime, and the switch log."""
    agents = pd.DataFrame(
        [
            {
                "name": a.name,
                "profile": a.profile,
                "strategy": a.strategy,
                "params": json.dumps(a.params, default=str),
                "objective": a.objective,
                "in_sample": json.dumps(json_safe(a.in_sample)),
            }
            for a in result.agents
        ],
        columns=["name", "profile", "strategy", "params", "objective", "in_sample"],
    )
    steps = pd.DataFrame(
        {
            "explanation": result.explanations.astype(str),
            "position": result.positions.astype(float),
            "regime": regimes.reindex(result.explanations.index).astype("string"),
        }
    )
    switches = pd.DataFrame(result.switch_log, columns=["date", "from", "to", "explanation"])
    return {"agents": agents, "steps": steps, "switches": switches.astype({"date": "string"})}


def reopen_ensemble(run_id: int) -> EnsembleOutcome:
    """A saved ensemble evaluation: agents, curves, weights, regimes and switches."""
    from app.operations.ensemble import EnsembleOutcome, EnsembleRequest
    from core.ensemble.agents import Agent
    from core.ensemble.evaluate import EnsembleResult

    run = get_run_of_kind(run_id, "ensemble")
    request = EnsembleRequest.model_validate(run.spec)
    m = run.metrics
    steps = load_frame(run, "steps")
    switches = load_frame(run, "switches")
    agents = [
        Agent(
            name=str(row["name"]),
            profile=str(row["profile"]),
            strategy=str(row["strategy"]),
            params=json.loads(row["params"]),
            objective=str(row["objective"]),
            in_sample={k: stored_number(v) for k, v in json.loads(row["in_sample"]).items()},
        )
        for row in load_frame(run, "agents").to_dict(orient="records")
    ]
    log = [
        {**row, "date": pd.Timestamp(row["date"])}
        for row in switches.astype(object).to_dict(orient="records")
    ]
    result = EnsembleResult(
        selector=str(m["selector"]),
        returns=load_frame(run, "returns"),
        weights=load_frame(run, "weights"),
        positions=steps["position"],
        regret_curve=load_frame(run, "regret")["regret"],
        explanations=steps["explanation"].astype(object),
        switch_log=log,
        agents=agents,
        best_agent=str(m["best_agent"]),
        ensemble_sharpe=stored_number(m.get("ensemble_sharpe")),
        best_single_sharpe=stored_number(m.get("best_single_sharpe")),
        equal_weight_sharpe=stored_number(m.get("equal_weight_sharpe")),
        regret=stored_number(m.get("regret")),
        switches=int(m["switches"]),
        turnover=stored_number(m.get("turnover")),
        train_bars=int(m["train_bars"]),
        execution=str(m.get("execution", "")),
    )
    regimes = steps["regime"].dropna().astype(str)
    by_regime = load_frame(run, "by_regime")
    return EnsembleOutcome(run_id, request, result, by_regime, regimes)
