"""What a report pack shows from the saved A/B comparisons: the runs with an arm of the
subject, their verdicts and the deciding test of each pair with such an arm."""

from __future__ import annotations

from typing import Any

import pandas as pd

from app.services import runs as run_store
from app.services.report_pack_data import RUNS_SCANNED
from core.reports.pack import ABVerdict, DecidingTest


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


__all__ = ["abtests", "arm_strategy"]
