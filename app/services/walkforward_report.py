"""A walk-forward's HTML report as a reader needs it: what was validated (strategy and
grid, or model; folds; fees, slippage and the execution convention; run id; data and its
hash), then each figure once (:func:`core.walkforward.report.report_html`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from core.backtest.spec import EXECUTION
from core.walkforward.report import report_html as _report_html

if TYPE_CHECKING:
    from app.services.walkforward_outcome import WalkForwardOutcome


def _bps(fraction: float) -> str:
    return f"{fraction * 1e4:g} bps ({fraction:.2%}) per fill"


def _values(values: list[float]) -> str:
    shown = [f"{v:g}" for v in values]
    listed = ", ".join(shown if len(shown) <= 8 else [*shown[:3], "…", *shown[-2:]])
    return f"{listed} ({len(shown):,} values)"


def setup_rows(outcome: WalkForwardOutcome) -> list[tuple[str, str]]:
    """What was validated and how, as (label, text) rows."""
    req, folds = outcome.request, outcome.result.folds
    rows: list[tuple[str, str]] = [
        ("Run id", f"#{outcome.run_id}" if outcome.run_id is not None else "not saved")
    ]
    if req.strategy is not None:
        axes = "; ".join(f"{k}: {_values(list(a.values()))}" for k, a in req.grid.items())
        rows += [
            ("Strategy", req.strategy),
            ("Parameter grid", axes or "none (default parameters)"),
            ("Selection", f"each fold's configuration by in-sample {req.metric}"),
        ]
    else:
        tuning = (
            f"retuned in each fold with Optuna ({req.n_trials:,} trials)"
            if req.retune
            else "default parameters, no tuning"
        )
        rows += [
            ("Model", f"{req.model}, horizon {req.horizon} bars, threshold {req.threshold:.2f}"),
            ("Parameter grid", tuning),
            ("Features", ", ".join(req.features) if req.features else "all available"),
        ]
    step = req.step_bars or req.test_bars
    span = ""
    if len(folds):
        first, last = pd.Timestamp(folds["test_start"].iloc[0]), folds["test_end"].iloc[-1]
        span = f"; test windows {first.date()} → {pd.Timestamp(last).date()}"
    rows += [
        (
            "Folds",
            f"{len(folds):,} {req.mode}: train {req.train_bars:,} bars, test "
            f"{req.test_bars:,} bars, step {step:,} bars{span}",
        ),
        ("Fees", _bps(req.fees)),
        ("Slippage", _bps(req.slippage)),
        ("Execution", EXECUTION),
        ("Data", f"{req.dataset}/{req.symbol}"),
        ("Data sha256", outcome.data_hash or "not recorded (a run saved before it was kept)"),
    ]
    return rows


def folds_html(folds: pd.DataFrame) -> str:
    """The fold table: dates without a time, returns in percent, three decimals."""
    shown = folds.copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
    if "oos_return" in shown:
        shown["oos_return"] = [f"{x:.2%}" for x in shown["oos_return"]]
    if "params" in shown:
        shown["params"] = [
            ", ".join(f"{k}={v}" for k, v in p.items()) if isinstance(p, dict) else str(p)
            for p in shown["params"]
        ]
    return shown.to_html(index=False, float_format="{:,.3f}".format, border=0)


def report_html(outcome: WalkForwardOutcome) -> str:
    """The self-contained HTML report of ``outcome`` (works offline)."""
    req = outcome.request
    subject = req.strategy or req.model
    return _report_html(
        outcome.result,
        title=f"Walk-forward report: {subject} on {req.symbol}, run #{outcome.run_id}"
        if outcome.run_id is not None
        else f"Walk-forward report: {subject} on {req.symbol}",
        setup=setup_rows(outcome),
        folds=folds_html(outcome.result.folds),
    )


__all__ = ["folds_html", "report_html", "setup_rows"]
