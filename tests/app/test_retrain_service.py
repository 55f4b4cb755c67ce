"""The retraining replay service and its CLI: recorded decisions obey their policy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.operations import Cancelled, CancelToken
from app.operations.retrain import ReplayRequest
from app.services import retrain
from tests.app.test_cli import workbench


def test_cli_replay_records_decisions(isolated_workbench: Path) -> None:
    out = workbench("retrain", "replay", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    decisions, counts = payload["decisions"], payload["counts"]
    assert decisions, "the default policy triggers on SP500"
    assert set(counts) == {"promoted", "kept", "rolled_back"}
    assert sum(counts.values()) == len(decisions)
    for kind, count in counts.items():
        assert count == sum(d["decision"] == kind for d in decisions)
    # Promotions follow the primary test alone (HAC paired t-test, challenger minus champion):
    # on SP500 no challenger is significantly better, so none is promoted (the old win-rate
    # verdict promoted worse challengers here).
    for d in decisions:
        numbers = d["numbers"]
        better = numbers["primary_p_adjusted"] < 0.05 and numbers["primary_mean_difference"] > 0
        if d["decision"] == "promoted":
            assert better, d
        elif d["decision"] == "kept":
            assert not better, d
            assert "decided by HAC paired t-test" in d["reason"]
    assert counts == {"promoted": 0, "kept": len(decisions), "rolled_back": 0}
    _check_policy(decisions, ReplayRequest())

    history = retrain.decision_history()
    assert len(history) == len(decisions)
    assert all(h["replay"] and h["model"] == "replay:ohlcv_daily/SP500" for h in history)
    newest_first = list(reversed(decisions))
    assert [h["as_of"] for h in history] == [d["as_of"] for d in newest_first]
    assert [h["decision"] for h in history] == [d["decision"] for d in newest_first]
    assert [h["reason"] for h in history] == [d["reason"] for d in newest_first]
    assert [h["numbers"]["champion"] for h in history] == [d["champion_id"] for d in newest_first]


def test_a_window_shorter_than_min_samples_trusts_all_its_bars(isolated_workbench: Path) -> None:
    """window 40 < min_samples 63: the policy is replayed with min_samples 40, its decisions
    obey it, and the counts and the progress reports add up."""
    request = ReplayRequest(window_bars=40, cooldown_bars=40)
    assert request.policy().min_samples == 40
    steps: list[tuple[float, str]] = []
    outcome = retrain.replay_retraining(request, progress=lambda f, m: steps.append((f, m)))
    assert outcome.rows and outcome.name == "replay:ohlcv_daily/SP500"
    _check_policy(outcome.rows, request.model_copy(update={"min_samples": 40}))
    assert sum(outcome.counts.values()) == len(outcome.rows)
    triggered = [r for r in outcome.rows if not r["trigger"].startswith("probation review")]
    assert triggered and all(r["numbers"]["samples"] == 40 for r in triggered)
    # SP500 has 5,031 bars; the first champion is trained on 750, so 4,281 are replayed
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and len(steps) == 4281 // 250 + 1
    assert steps[0] == (250 / 4281, "250/4,281 bars replayed")
    assert steps[-1] == (1.0, f"{len(outcome.rows)} decisions over 4,281 bars")
    assert len(retrain.decision_history()) == len(outcome.rows)


def test_a_cancelled_replay_records_nothing(isolated_workbench: Path) -> None:
    token = CancelToken()
    seen: list[str] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        token.cancel("stop")

    with pytest.raises(Cancelled, match="stop"):
        retrain.replay_retraining(ReplayRequest(), progress=progress, cancel=token)
    assert seen == ["250/4,281 bars replayed"]
    assert retrain.decision_history() == []


def test_cli_replay_bad_window_exits_2(isolated_workbench: Path) -> None:
    out = workbench("retrain", "replay", "--window", "5", "--json", var=isolated_workbench)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--window" in out.stdout + out.stderr
    assert retrain.decision_history() == []


def _check_policy(rows: list[dict[str, Any]], request: ReplayRequest) -> None:
    """Every decision obeys the policy it was replayed with."""
    bars = [r["bar"] for r in rows]
    assert bars == sorted(bars) and len(set(bars)) == len(bars)
    previous: dict[str, Any] | None = None
    for row in rows:
        numbers = row["numbers"]
        if row["trigger"].startswith("probation review"):
            # a review comes exactly rollback_window_bars after its promotion
            assert previous is not None and previous["decision"] == "promoted"
            assert row["bar"] - previous["bar"] == request.rollback_window_bars
            assert row["champion_id"] == previous["challenger_id"]
            rolled = numbers["promoted_metric"] < numbers["predecessor_metric"]
            assert (row["decision"] == "rolled_back") == rolled
        else:
            assert row["decision"] in ("promoted", "kept")
            assert numbers["champion_metric"] < request.threshold
            assert request.min_samples <= numbers["samples"] <= request.window_bars
            assert numbers["window_end"] == row["bar"]
            if previous is not None:
                assert previous["decision"] != "promoted", "a promotion is reviewed first"
                assert row["bar"] - previous["bar"] >= request.cooldown_bars
        previous = row
