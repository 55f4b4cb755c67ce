"""Reopen a finished job's saved run as the typed outcome its page renders.

A long operation runs in the jobs worker, not in the page; what the page shows afterwards
is read back from the run the operation saved (``job.result["run_id"]``), with no
recomputation. The sweep has :func:`app.services.sweep.reopen_sweep` beside its service;
these are the same for the walk-forward and the training run.
"""

from __future__ import annotations

import ast
import json
import math
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.operations.training import TrainRequest
from app.operations.walkforward import WalkForwardRequest
from app.services import runs as run_store
from core.serialize import json_safe

if TYPE_CHECKING:
    from app.operations.ensemble import EnsembleOutcome
    from app.services.abtest import CompareOutcome
    from app.services.training import TrainOutcome
    from app.services.walkforward import WalkForwardOutcome
    from core.ensemble.evaluate import EnsembleResult


def _number(value: Any) -> float:
    """A stored number (``None`` stands for NaN in the JSON metrics)."""
    return math.nan if value is None else float(value)


def _params(text: Any) -> Any:
    """A fold's parameters from their stored text (``"{'fast': 10}"``), else the text."""
    if isinstance(text, str) and text.startswith("{"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def _run(run_id: int, kind: str) -> run_store.RunSummary:
    run = run_store.get_run(run_id)
    if run.kind != kind:
        raise LookupError(f"run {run_id} is a {run.kind}, not a {kind}")
    return run


def reopen_walkforward(run_id: int) -> WalkForwardOutcome:
    """A saved walk-forward: its folds, stitched equity and overfitting statistics."""
    from app.services.walkforward import WalkForwardOutcome
    from core.walkforward import WalkForwardResult

    run = _run(run_id, "walkforward")
    request = WalkForwardRequest.model_validate(run.spec)
    oos = run_store.load_frame(run, "oos")
    folds = run_store.load_frame(run, "folds")
    if "params" in folds:  # stored as the text of each fold's parameter dict
        folds["params"] = [_params(text) for text in folds["params"]]
    m = run.metrics
    pbo = m.get("pbo")
    result = WalkForwardResult(
        kind="rule" if request.strategy is not None else "model",
        folds=folds,
        oos_returns=oos["returns"],
        oos_equity=oos["equity"],
        oos_positions=pd.Series(dtype=float),  # not stored
        is_sharpe=_number(m.get("is_sharpe")),
        oos_sharpe=_number(m.get("oos_sharpe")),
        oos_return=_number(m.get("oos_return")),
        trials=int(m.get("trials", 1)),
        deflated_sharpe=_number(m.get("deflated_sharpe")),
        dsr={"effective_trials": _number(m.get("effective_trials"))},
        pbo=None if pbo is None else float(pbo),
        pbo_detail=None,
        seconds=_number(m.get("seconds")),
        oos_auc=None if m.get("oos_auc") is None else float(m["oos_auc"]),
        warnings=tuple(m.get("warnings") or ()),
        lookahead=m.get("lookahead"),
        trial_counting=str(m.get("trial_counting", "")),
    )
    return WalkForwardOutcome(run_id, request, result)


def reopen_training(run_id: int) -> TrainOutcome:
    """A saved training run: evaluation, importance, signal metrics and curves."""
    from app.services.training import TrainOutcome

    run = _run(run_id, "train")
    spec = run.spec
    request = TrainRequest.model_validate(
        {k: spec[k] for k in TrainRequest.model_fields if k in spec}
    )
    m = run.metrics
    curves = run_store.load_frame(run, "curves")
    ranges = [
        tuple(date.fromisoformat(d) for d in m[name]) for name in ("train_range", "test_range")
    ]
    return TrainOutcome(
        run_id=run_id,
        request=request,
        params=dict(spec.get("resolved_params") or {}),
        features=list(spec.get("resolved_features") or request.features or []),
        evaluation=dict(m.get("evaluation") or {}),
        importance=run_store.load_frame(run, "importance"),
        signal_metrics={k: _number(v) for k, v in (m.get("signal") or {}).items()},
        equity=curves["equity"],
        benchmark=curves["benchmark"],
        train_range=(ranges[0][0], ranges[0][1]),
        test_range=(ranges[1][0], ranges[1][1]),
        trials=int(m.get("trials", 1)),
        data_hash=str(m.get("data_hash", "")),
        warnings=tuple(m.get("warnings") or ()),
        lookahead=m.get("lookahead"),
    )


def reopen_abtest(run_id: int, payload: dict[str, Any]) -> CompareOutcome:
    """A saved A/B comparison: the tests of the job's ``payload`` and the saved returns.

    The run keeps the common-day returns; the payload (the job's result) keeps every test
    row with its role and adjusted p-value, so nothing is resampled again.
    """
    from app.operations.abtest import CompareRequest
    from app.services.abtest import CompareOutcome
    from core.abtest.comparison import CompareSpec, ComparisonResult

    run = _run(run_id, "abtest")
    request = CompareRequest.model_validate(run.spec)
    returns = run_store.load_frame(run, "returns")
    floats = ("statistic", "p_value", "p_adjusted", "estimate")
    rows = [{**row, **{k: _number(row.get(k)) for k in floats}} for row in payload.get("tests", [])]
    result = ComparisonResult(
        names=tuple(str(c) for c in returns.columns),
        tests=rows,  # type: ignore[arg-type]  # validated into ComparisonRow
        adjusted_p_values=[_number(p) for p in payload.get("adjusted_p_values", [])],
        verdict=str(payload["verdict"]),
        primary_test=str(payload["primary_test"]),
        decision_rule=str(payload.get("decision_rule", "")),
        min_sample_size=payload.get("min_sample_size"),
        n_obs=int(payload["n_obs"]),
        start=str(returns.index[0].date()) if len(returns) else None,
        end=str(returns.index[-1].date()) if len(returns) else None,
        spec=CompareSpec(
            alpha=request.alpha,
            correction=request.correction,
            n_boot=request.n_boot,
            seed=request.seed,
        ),
    )
    return CompareOutcome(run_id, request, result, returns)


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

    run = _run(run_id, "ensemble")
    request = EnsembleRequest.model_validate(run.spec)
    m = run.metrics
    steps = run_store.load_frame(run, "steps")
    switches = run_store.load_frame(run, "switches")
    agents = [
        Agent(
            name=str(row["name"]),
            profile=str(row["profile"]),
            strategy=str(row["strategy"]),
            params=json.loads(row["params"]),
            objective=str(row["objective"]),
            in_sample={k: _number(v) for k, v in json.loads(row["in_sample"]).items()},
        )
        for row in run_store.load_frame(run, "agents").to_dict(orient="records")
    ]
    log = [
        {**row, "date": pd.Timestamp(row["date"])}
        for row in switches.astype(object).to_dict(orient="records")
    ]
    result = EnsembleResult(
        selector=str(m["selector"]),
        returns=run_store.load_frame(run, "returns"),
        weights=run_store.load_frame(run, "weights"),
        positions=steps["position"],
        regret_curve=run_store.load_frame(run, "regret")["regret"],
        explanations=steps["explanation"].astype(object),
        switch_log=log,
        agents=agents,
        best_agent=str(m["best_agent"]),
        ensemble_sharpe=_number(m.get("ensemble_sharpe")),
        best_single_sharpe=_number(m.get("best_single_sharpe")),
        equal_weight_sharpe=_number(m.get("equal_weight_sharpe")),
        regret=_number(m.get("regret")),
        switches=int(m["switches"]),
        turnover=_number(m.get("turnover")),
        train_bars=int(m["train_bars"]),
        execution=str(m.get("execution", "")),
    )
    regimes = steps["regime"].dropna().astype(str)
    by_regime = run_store.load_frame(run, "by_regime")
    return EnsembleOutcome(run_id, request, result, by_regime, regimes)
