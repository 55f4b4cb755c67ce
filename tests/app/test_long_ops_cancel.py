"""Ensemble evaluation and retraining replay as the job runner calls them
(``op.run(request, progress=..., cancel=CancelToken())``): progress never goes back, and
a cancel half-way raises Cancelled at the next check and records nothing."""

from __future__ import annotations

import pytest

from app.operations import Cancelled, CancelToken, get
from app.operations.ensemble import EnsembleRequest
from app.operations.retrain import ReplayRequest
from app.services import retrain
from app.services import runs as run_store


def test_ensemble_eval_cancelled_after_two_agents_stops_before_the_third() -> None:
    op = get("ensemble eval")
    assert op.long_running
    token, steps = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        steps.append((fraction, message))
        if message == "agent aggressive tuned":
            token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        op.run(EnsembleRequest(selector="ucb"), progress=progress, cancel=token)
    assert [m for _, m in steps] == [
        "regime model fitted on 2,515 training bars",
        "agent conservative tuned",
        "agent aggressive tuned",
    ]
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0
    assert run_store.list_runs(kind="ensemble") == []


def test_retrain_replay_cancelled_half_way_records_no_decision() -> None:
    op = get("retrain replay")
    assert op.long_running
    token, steps = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        steps.append((fraction, message))
        if fraction >= 0.5:
            token.cancel("half way")

    with pytest.raises(Cancelled, match="half way"):
        op.run(ReplayRequest(), progress=progress, cancel=token)
    # SP500: 4,281 bars replayed, a report and a check every 250 bars
    assert [m for _, m in steps][-1] == "2,250/4,281 bars replayed"
    assert [f for f, _ in steps] == [250 * k / 4281 for k in range(1, 10)]
    assert retrain.decision_history() == []


def test_retrain_replay_payload_names_where_its_decisions_are_recorded() -> None:
    op = get("retrain replay")
    steps: list[float] = []
    outcome = op.run(ReplayRequest(window_bars=252), progress=lambda f, m: steps.append(f))
    payload = op.payload(outcome)
    assert payload["model_name"] == "replay:ohlcv_daily/SP500"
    assert steps == sorted(steps) and steps[-1] == 1.0
    assert len(retrain.decision_history()) == len(payload["decisions"])
