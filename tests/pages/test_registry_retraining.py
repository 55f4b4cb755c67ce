"""Retraining history inside the Model registry page: replay the policy, see decisions."""

from __future__ import annotations

from app.services import jobs, retrain
from tests.pages.helpers import metrics, open_app


def test_registry_page_replays_the_policy_and_lists_recorded_decisions() -> None:
    at = open_app("registry")
    assert any(h.value == "Retraining history" for h in at.subheader)
    submit = next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:retrain.form"))
    submit.click().run()
    assert not at.exception
    assert jobs.run_pending() == 1  # the replay runs as a job
    at.run()
    assert not at.exception
    history = retrain.decision_history()
    assert len(history) > 0 and all(h["replay"] for h in history)
    assert all(h["model"] == "replay:ohlcv_daily/SP500" for h in history)
    shown = metrics(at)
    promoted = sum(h["decision"] == "promoted" for h in history)
    assert any(v == str(promoted) for k, v in shown.items() if "romoted" in k)
    (job,) = jobs.list_jobs(kind="retrain replay")
    assert any(
        s.value.startswith(
            f"Replay job #{job.id} (replay:ohlcv_daily/SP500): {len(history)} decisions"
        )
        for s in at.success
    )


def test_registry_page_replays_with_a_logistic_challenger() -> None:
    at = open_app("registry")
    at.radio(key="retrain.model_kind").set_value("logistic")
    submit = next(b for b in at.button if b.key and b.key.startswith("FormSubmitter:retrain.form"))
    submit.click().run()
    assert not at.exception
    assert jobs.run_pending() == 1  # the replay runs as a job
    at.run()
    assert not at.exception
    history = retrain.decision_history()
    assert history and {h["model"] for h in history} == {"replay:logistic:ohlcv_daily/SP500"}
    assert any("logistic(" in str(h["numbers"].get("champion")) for h in history)
    assert any("replay:logistic:ohlcv_daily/SP500" in s.value for s in at.success)
