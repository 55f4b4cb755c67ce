"""What a report pack shows from the saved runs: backtests and walk-forwards (A/B
comparisons: :mod:`app.services.report_pack_ab`; the paper side:
:mod:`app.services.report_pack_paper`).

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


__all__ = ["model_backtests", "strategy_backtests", "walkforwards"]
