"""The Training page, driven through the router: train, read the results, register."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.services import jobs, registry
from app.services import runs as run_store
from app.services.training import TrainOutcome, train
from app.services.training_reopen import reopen_training
from core.features import available_features
from tests.pages.helpers import chart_spec, metrics, open_app, plotly_array, trace_types

TRAIN = "FormSubmitter:training.form-Train"
REGISTER = "FormSubmitter:training.register-Register model"
FEATURES = "training.features.ohlcv_daily.SP500"


def _cards(evaluation: dict[str, float]) -> dict[str, str]:
    """How the page formats the service's evaluation."""
    return {
        "ROC-AUC": f"{evaluation['roc_auc']:.4f}",
        "PR-AUC": f"{evaluation['pr_auc']:.4f}",
        "Log loss": f"{evaluation['log_loss']:.4f}",
        "Brier": f"{evaluation['brier']:.4f}",
        "Accuracy": f"{100 * evaluation['accuracy']:.2f}%",
        "Base rate (up)": f"{100 * evaluation['base_rate']:.2f}%",
    }


def _train(at: AppTest, kind: str) -> None:
    """Submit the form, run the queued job as the worker would, and show its result."""
    at.selectbox(key="training.kind").set_value(kind)
    at.button(key=TRAIN).click().run()
    assert not at.exception, at.exception
    jobs.run_pending()
    at.run()
    assert not at.exception, at.exception


def test_logistic_run_shows_the_services_metrics_saves_and_registers() -> None:
    at = open_app("training")
    assert at.title[0].value == "Training"
    assert at.multiselect(key=FEATURES).value == available_features(
        ["open", "high", "low", "close", "volume"]
    )
    _train(at, "logistic")
    assert [e.value for e in at.error] == []

    (saved,) = run_store.list_runs(kind="train")
    outcome: TrainOutcome = reopen_training(saved.id)
    assert at.session_state["training.run_id"] == saved.id == outcome.run_id

    # The same request straight from the service gives the numbers on the cards.
    expected = train(outcome.request, save=False)
    shown = metrics(at)
    assert {k: shown[k] for k in _cards(expected.evaluation)} == _cards(expected.evaluation)
    assert shown["ROC-AUC"] == f"{saved.metrics['roc_auc']:.4f}"
    assert shown["Signal Sharpe"] == f"{expected.signal_metrics['sharpe']:.2f}"
    assert shown["Signal trades"] == f"{round(expected.signal_metrics['n_trades']):,}"
    assert saved.metrics["signal"]["sharpe"] == expected.signal_metrics["sharpe"]
    assert outcome.request.kind == "logistic" and outcome.request.horizon == 5

    page = " ".join(m.value for m in at.markdown)
    assert f"**Train** {expected.train_range[0]} → {expected.train_range[1]}" in page
    assert f"**Test (out of sample)** {expected.test_range[0]}" in page
    # ROC, PR, calibration, confusion matrix, importance, signal equity.
    assert len(at.get("plotly_chart")) == 6
    roc = chart_spec(at, 0)["data"][0]
    assert plotly_array(roc["x"]).tolist() == expected.evaluation["roc"]["fpr"]
    heat = chart_spec(at, 3)["data"][0]
    assert plotly_array(heat["z"]).tolist() == expected.evaluation["confusion_matrix"]
    assert trace_types(at, 4) == ["bar"]  # permutation only: no SHAP for a logistic model

    # A bad name is refused and nothing is stored.
    at.text_input(key="training.register.name").set_value("my model!")
    at.button(key=REGISTER).click().run()
    assert not at.exception
    assert any("model name 'my model!'" in e.value for e in at.error)
    assert registry.list_versions() == []

    at.text_input(key="training.register.name").set_value("sp500-logit")
    at.button(key=REGISTER).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == []
    (version,) = registry.list_versions()
    assert (version.name, version.version, version.stage) == ("sp500-logit", 1, "candidate")
    assert version.metrics["run_id"] == saved.id
    assert version.metrics["roc_auc"] == saved.metrics["roc_auc"]
    assert any("sp500-logit v1" in s.value and "candidate" in s.value for s in at.success)


def test_tuned_xgboost_reports_trials_and_shap() -> None:
    at = open_app("training")
    at.multiselect(key=FEATURES).set_value(["ret_1", "ret_5", "rsi_14", "vol_21", "macd_hist"])
    at.toggle(key="training.tune").set_value(True)
    at.number_input(key="training.n_trials").set_value(2)
    _train(at, "xgboost")
    assert [e.value for e in at.error] == []

    (saved,) = run_store.list_runs(kind="train")
    assert saved.metrics["trials"] == 2
    assert saved.spec["resolved_features"] == ["ret_1", "ret_5", "rsi_14", "vol_21", "macd_hist"]
    (job,) = jobs.list_jobs(kind="train")
    assert job.status == "done" and job.result is not None and job.result["run_id"] == saved.id
    assert any(f"Job #{job.id} (train) **done**" in m.value for m in at.markdown)
    assert trace_types(at, 4) == ["bar", "bar"]  # permutation and SHAP side by side
    assert metrics(at)["ROC-AUC"] == f"{saved.metrics['roc_auc']:.4f}"


def test_no_features_or_bad_hyperparameters_show_errors_and_store_nothing() -> None:
    at = open_app("training")
    at.multiselect(key=FEATURES).set_value([])
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Choose at least one feature."]

    at.multiselect(key=FEATURES).set_value(["ret_1", "rsi_14"])
    at.text_input(key="training.params").set_value("[1, 2]")
    at.button(key=TRAIN).click().run()
    assert any("must be a JSON object" in e.value for e in at.error)

    at.selectbox(key="training.kind").set_value("logistic")
    at.text_input(key="training.params").set_value('{"no_such_param": 3}')
    at.button(key=TRAIN).click().run()
    assert not at.exception
    assert any("no_such_param" in e.value for e in at.error), [e.value for e in at.error]
    assert metrics(at) == {}
    assert run_store.list_runs(kind="train") == []
    assert jobs.list_jobs() == []  # nothing was queued


def test_a_leaky_feature_is_refused_then_flagged_when_overridden(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.features import REGISTRY, Feature

    name = "leak_next_return"
    monkeypatch.setitem(
        REGISTRY,
        name,
        Feature(
            name=name,
            inputs=("close",),
            lookback=0,
            description="deliberately leaks the next bar's return",
            func=lambda p: p["close"].shift(-1) / p["close"] - 1.0,
        ),
    )
    at = open_app("training")
    at.number_input(key="training.horizon").set_value(1)
    at.multiselect(key=FEATURES).set_value(["ret_1", name])
    _train(at, "logistic")
    errors = " ".join(e.value for e in at.error).lower()
    assert f"refused: feature(s) {name}" in errors
    (beside,) = [e.value for e in at.error if e.value.endswith("Correct this field and run again.")]
    assert (
        f"refused: feature(s) {name}" in beside.lower()
    )  # under the features, not only in the panel
    assert run_store.list_runs(kind="train") == []

    at.checkbox(key="training.allow_lookahead").check()
    _train(at, "logistic")
    shown = [e.value for e in at.error]
    assert any("LOOK-AHEAD CHECK OVERRIDDEN" in e for e in shown)
    assert any("implausible out-of-sample AUC" in e for e in shown)
    (saved,) = run_store.list_runs(kind="train")
    assert saved.metrics["roc_auc"] >= 0.9 and saved.metrics["warnings"]


def test_a_failed_run_shows_its_error_open_beside_the_field_that_caused_it() -> None:
    at = open_app("training")
    at.multiselect(key=FEATURES).set_value(["ret_1", "rsi_14"])
    at.text_input(key="training.params").set_value('{"C": -1}')  # valid name, bad value
    _train(at, "logistic")
    (job,) = jobs.list_jobs(kind="train")
    assert job.status == "failed" and job.error is not None and "'C'" in job.error
    (costs,) = [e for e in at.expander if e.label == "Costs and fixed hyperparameters"]
    assert costs.proto.expanded  # opened on the field at fault
    beside = [e.value for e in costs.error]
    assert beside == [f"{job.error} Correct this field and run again."]
    assert at.get("progress") == []  # no progress bar left behind
    assert run_store.list_runs(kind="train") == []

    # a new run of the form closes the old failure
    at.text_input(key="training.params").set_value('{"C": 1.0}')
    _train(at, "logistic")
    assert [e.value for e in at.error] == []
    assert [j.status for j in jobs.list_jobs(kind="train")] == ["done", "failed"]


def test_registering_the_same_run_twice_is_refused_naming_the_version() -> None:
    at = open_app("training")
    at.multiselect(key=FEATURES).set_value(["ret_1", "rsi_14"])
    _train(at, "logistic")
    (saved,) = run_store.list_runs(kind="train")
    at.text_input(key="training.register.name").set_value("momentum_lr")
    at.button(key=REGISTER).click().run()
    assert any("momentum_lr v1" in s.value for s in at.success)
    at.text_input(key="training.register.name").set_value("momentum_lr")
    at.button(key=REGISTER).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Training run #{saved.id} is already registered as momentum_lr v1 (candidate); "
        "promote or compare that version instead of registering the run again."
    ]
    assert not any("v2" in s.value for s in at.success)
    assert [(v.name, v.version) for v in registry.list_versions()] == [("momentum_lr", 1)]
