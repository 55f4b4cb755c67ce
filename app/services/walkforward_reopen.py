"""Reopen a finished walk-forward job's saved run as the outcome its page renders.

A long operation runs in the jobs worker, not in the page; what the page shows afterwards
is read back from the run the operation saved (``job.result["run_id"]``), with no
recomputation (as :func:`app.services.sweep.reopen_sweep` does for the sweep).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.operations.walkforward import WalkForwardRequest
from app.services.runs import get_run_of_kind, load_frame, stored_number

if TYPE_CHECKING:
    from app.services.walkforward import WalkForwardOutcome


def _params(text: Any) -> Any:
    """A fold's parameters from their stored text (``"{'fast': 10}"``), else the text."""
    if isinstance(text, str) and text.startswith("{"):
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    return text


def reopen_walkforward(run_id: int) -> WalkForwardOutcome:
    """A saved walk-forward: its folds, stitched equity and overfitting statistics."""
    from app.services.walkforward import WalkForwardOutcome
    from core.walkforward import WalkForwardResult

    run = get_run_of_kind(run_id, "walkforward")
    request = WalkForwardRequest.model_validate(run.spec)
    oos = load_frame(run, "oos")
    folds = load_frame(run, "folds")
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
        is_sharpe=stored_number(m.get("is_sharpe")),
        oos_sharpe=stored_number(m.get("oos_sharpe")),
        oos_return=stored_number(m.get("oos_return")),
        trials=int(m.get("trials", 1)),
        deflated_sharpe=stored_number(m.get("deflated_sharpe")),
        dsr={"effective_trials": stored_number(m.get("effective_trials"))},
        pbo=None if pbo is None else float(pbo),
        pbo_detail=None,
        seconds=stored_number(m.get("seconds")),
        oos_auc=None if m.get("oos_auc") is None else float(m["oos_auc"]),
        warnings=tuple(m.get("warnings") or ()),
        lookahead=m.get("lookahead"),
        trial_counting=str(m.get("trial_counting", "")),
    )
    return WalkForwardOutcome(run_id, request, result, str(m.get("data_hash") or ""))
