"""What a report pack shows from the saved runs: backtests, walk-forwards and A/B
comparisons (the paper side is :mod:`app.services.report_pack_paper`).

A *strategy* subject (a name of :data:`core.strategies.STRATEGIES`) gathers the saved
backtests, walk-forwards and A/B arms of that strategy; paper sessions trade the
rule-agent ensemble or a registered model, never one strategy alone, so its paper
column is empty. A *model* subject (a registry name) gathers each version's training
run (its out-of-sample backtest), the paper sessions trading ``NAME:VERSION`` or
``NAME@champion``, the walk-forwards of its kind on its data, the A/B arms
``model:<id>`` of its versions, and their books against the limits in force.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from app.services import runs as run_store
from core.reports.pack import (
    ABVerdict,
    DecidingTest,
    PerformanceColumn,
    WalkForwardRow,
)

BACKTESTS_SHOWN = 3
"""Newest saved backtests (or model versions) shown beside the paper sessions."""
RUNS_SCANNED = 2000
"""Newest runs of each kind looked at."""


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _metrics(raw: dict[str, Any]) -> dict[str, float]:
    return {k: _num(v) for k, v in raw.items() if isinstance(v, int | float) or v is None}


def _curves(run: run_store.RunSummary) -> pd.DataFrame | None:
    try:
        return run_store.load_frame(run, "curves")
    except LookupError:
        return None


def _column(run: run_store.RunSummary, label: str, metrics: dict[str, Any]) -> PerformanceColumn:
    curves = _curves(run)
    equity = None if curves is None or "equity" not in curves else curves["equity"].dropna()
    values = _metrics(metrics)
    spec = run.spec
    span = ""
    if equity is not None and len(equity):
        values["bars"] = float(len(equity))
        span = f", {equity.index[0]:%Y-%m-%d} – {equity.index[-1]:%Y-%m-%d}"
    detail = f"{spec.get('dataset')}/{spec.get('symbol')}{span}"
    pair = (str(spec.get("dataset")), str(spec.get("symbol")))
    return PerformanceColumn("backtest", label, detail, values, equity, (pair,))


def strategy_backtests(name: str) -> list[PerformanceColumn]:
    """The newest saved backtests of strategy ``name``."""
    runs = [
        r
        for r in run_store.list_runs("backtest", limit=RUNS_SCANNED)
        if r.status == "done" and r.spec.get("strategy") == name
    ]
    return [_column(r, f"Backtest run {r.id}", r.metrics) for r in runs[:BACKTESTS_SHOWN]]


def model_backtests(versions: Iterable[Any]) -> list[PerformanceColumn]:
    """Each version's training run: its signal backtested on the held-out test period."""
    out = []
    for v in list(versions)[:BACKTESTS_SHOWN]:
        run_id = v.metrics.get("run_id")
        try:
            run = run_store.get_run(int(run_id))
        except (LookupError, TypeError, ValueError):
            continue
        label = f"{v.name} v{v.version} (training run {run.id}, test period)"
        out.append(_column(run, label, dict(run.metrics.get("signal") or {})))
    return out


def walkforwards(match: Any) -> list[WalkForwardRow]:
    """Saved walk-forward runs whose spec ``match(spec)`` accepts, newest first."""
    out = []
    for r in run_store.list_runs("walkforward", limit=RUNS_SCANNED):
        if r.status != "done" or not match(r.spec):
            continue
        try:
            folds = len(run_store.load_frame(r, "folds"))
        except LookupError:
            folds = 0
        m = r.metrics
        out.append(
            WalkForwardRow(
                r.id,
                r.title,
                r.created_at,
                _num(m.get("deflated_sharpe")),
                _num(m.get("pbo")),
                _num(m.get("oos_sharpe")),
                _num(m.get("is_sharpe")),
                int(m.get("trials") or 0),
                folds,
            )
        )
    return out


def _saved_labels(run: run_store.RunSummary) -> list[str]:
    """The names a saved A/B run gave its arms, in the arms' order (the columns of its
    returns; older runs named them by the arm's text)."""
    arms = [str(a) for a in run.spec.get("arms", [])]
    try:
        columns = [str(c) for c in run_store.load_frame(run, "returns").columns]
    except LookupError:
        return arms
    return columns if len(columns) == len(arms) else arms


def abtests(arm_matches: Any) -> list[ABVerdict]:
    """Saved A/B runs with an arm ``arm_matches(arm)`` accepts; the deciding test's row of
    each pair with such an arm."""
    out = []
    for r in run_store.list_runs("abtest", limit=RUNS_SCANNED):
        arms = [str(a) for a in r.spec.get("arms", [])]
        if r.status != "done" or not any(arm_matches(a) for a in arms):
            continue
        mine = {
            label for arm, label in zip(arms, _saved_labels(r), strict=True) if arm_matches(arm)
        }
        try:
            tests = run_store.load_frame(r, "tests")
        except LookupError:
            tests = pd.DataFrame()
        rows = []
        if len(tests):
            primary = tests[tests["role"] == "primary"]
            for t in primary.itertuples():
                if mine & set(str(t.pair).split(" vs ")):
                    rows.append(
                        DecidingTest(
                            str(t.pair),
                            float(t.p_adjusted),
                            float(t.estimate),
                            str(t.unit),
                            bool(t.significant),
                            None if pd.isna(t.favours) else str(t.favours),
                        )
                    )
        m = r.metrics
        out.append(
            ABVerdict(
                r.id,
                r.title,
                r.created_at,
                str(m.get("verdict") or ""),
                str(m.get("primary_test") or ""),
                int(m.get("n_obs") or 0),
                rows,
            )
        )
    return out


def arm_strategy(arm: str) -> str | None:
    """The strategy an A/B arm runs: its own name, or a saved backtest's (``run:<id>``);
    None for a model arm or a run that is gone."""
    from app.operations.abtest import parse_arm

    try:
        kind, payload = parse_arm(arm)
    except ValueError:
        return None
    if kind == "model":
        return None
    if kind == "run":
        try:
            run = run_store.get_run(int(payload))  # type: ignore[arg-type]
        except LookupError:
            return None
        return str(run.spec.get("strategy")) if run.kind == "backtest" else None
    return kind


__all__ = ["abtests", "arm_strategy", "model_backtests", "strategy_backtests", "walkforwards"]
