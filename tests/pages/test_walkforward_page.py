"""The Walk-forward page: rule and model runs, DSR/PBO with explanations, export, look-ahead."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.operations.walkforward import WalkForwardRequest, walkforward_payload
from app.services import jobs
from app.services import runs as run_store
from app.services import walkforward as wf
from app.services.walkforward_reopen import reopen_walkforward
from core.sweep import GridAxis
from core.walkforward.report import DSR_EXPLAINED, PBO_EXPLAINED
from tests.pages.helpers import metrics, open_app, trace_types

RUN = "FormSubmitter:wf.form-Run walk-forward"
GRID = {"fast": (5, 20, 5), "slow": (50, 150, 50)}


def _set_folds(at: AppTest, folds: int) -> None:
    at.number_input(key="wf.train_bars").set_value(1000)
    at.number_input(key="wf.test_bars").set_value(250)
    at.number_input(key="wf.folds").set_value(folds)


def _run_job(at: AppTest) -> None:
    """Submit the form, run the queued job as the worker would, and show its result."""
    at.button(key=RUN).click().run()
    assert not at.exception, at.exception
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception, at.exception


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_rule_run_shows_the_services_dsr_and_pbo_with_explanations() -> None:
    at = open_app("walkforward")
    assert at.title[0].value == "Walk-forward"
    _set_folds(at, 3)
    for name, (lo, hi, step) in GRID.items():
        at.number_input(key=f"wf.ma_crossover.{name}.lo").set_value(lo)
        at.number_input(key=f"wf.ma_crossover.{name}.hi").set_value(hi)
        at.number_input(key=f"wf.ma_crossover.{name}.step").set_value(step)
    _run_job(at)
    assert [e.value for e in at.error] == []

    request = WalkForwardRequest(
        strategy="ma_crossover",
        grid={n: GridAxis(start=lo, stop=hi, step=s) for n, (lo, hi, s) in GRID.items()},
        train_bars=1000,
        test_bars=250,
        folds=3,
    )
    expected = walkforward_payload(wf.run_walkforward(request, save=False))
    shown = metrics(at)
    assert shown["Deflated Sharpe"] == f"{expected['deflated_sharpe']:.3f}"
    assert shown["PBO"] == f"{expected['pbo']:.3f}"
    assert shown["IS Sharpe (mean of folds)"] == f"{expected['is_sharpe']:.2f}"
    assert shown["OOS Sharpe (stitched)"] == f"{expected['oos_sharpe']:.2f}"
    assert shown["Trials"] == str(expected["trials"]) == "12"  # 4 fast x 3 slow, fast < slow
    assert DSR_EXPLAINED in _captions(at) and PBO_EXPLAINED in _captions(at)

    (folds,) = at.dataframe
    assert len(folds.value) == 3
    assert list(folds.value["params"]) == [
        ", ".join(f"{k}={v}" for k, v in row["params"].items()) for row in expected["folds"]
    ]
    shown_returns = list(folds.value["oos_return %"])
    assert shown_returns == pytest.approx([100 * row["oos_return"] for row in expected["folds"]])
    assert trace_types(at, 0) == ["scatter"]  # stitched OOS equity
    assert trace_types(at, 1) == ["bar", "bar"]  # IS vs OOS Sharpe per fold

    (saved,) = run_store.list_runs(kind="walkforward")
    assert saved.metrics["deflated_sharpe"] == expected["deflated_sharpe"]
    assert saved.metrics["pbo"] == expected["pbo"]
    (job,) = jobs.list_jobs(kind="walkforward")
    assert job.result is not None and job.result["run_id"] == saved.id

    (download,) = at.get("download_button")
    assert download.proto.label == "Download report (HTML)"
    html = wf.report_html(reopen_walkforward(saved.id))
    assert "Deflated Sharpe ratio" in html and "<h2>Folds</h2>" in html


def test_model_run_has_no_pbo_and_matches_the_service() -> None:
    at = open_app("walkforward")
    at.radio(key="wf.kind").set_value("model").run()
    _set_folds(at, 3)
    features = ["ret_1", "ret_5", "rsi_14", "vol_21"]
    at.multiselect(key="wf.features.ohlcv_daily.SP500").set_value(features)
    _run_job(at)
    assert [e.value for e in at.error] == []

    request = WalkForwardRequest(
        model="logistic", features=features, train_bars=1000, test_bars=250, folds=3
    )
    expected = walkforward_payload(wf.run_walkforward(request, save=False))
    shown = metrics(at)
    assert shown["PBO"] == "n/a" and expected["pbo"] is None
    assert shown["Deflated Sharpe"] == f"{expected['deflated_sharpe']:.3f}"
    assert shown["OOS Sharpe (stitched)"] == f"{expected['oos_sharpe']:.2f}"
    (folds,) = at.dataframe
    assert len(folds.value) == 3
    assert list(folds.value["oos_auc"]) == [row["oos_auc"] for row in expected["folds"]]


def test_impossible_layouts_show_errors_and_store_nothing() -> None:
    at = open_app("walkforward")
    at.number_input(key="wf.test_bars").set_value(250)
    at.number_input(key="wf.step").set_value(100)
    at.button(key=RUN).click().run()
    assert not at.exception
    assert any("Step 100 is below Test bars 250" in e.value for e in at.error), [
        e.value for e in at.error
    ]

    at.number_input(key="wf.step").set_value(0)
    at.number_input(key="wf.train_bars").set_value(4000)
    at.number_input(key="wf.folds").set_value(20)
    at.button(key=RUN).click().run()
    assert not at.exception
    assert any("folds fit in" in e.value and "20 requested" in e.value for e in at.error)
    assert metrics(at) == {}
    assert run_store.list_runs(kind="walkforward") == [] and jobs.list_jobs() == []


def test_lookahead_check_flags_the_leaky_demo_feature_only() -> None:
    at = open_app("walkforward")
    at.radio(key="wf.la.target").set_value("features").run()
    at.checkbox(key="wf.la.leaky").check()
    at.button(key="wf.la.run").click().run()
    assert not at.exception, at.exception
    (error,) = at.error
    assert "leaky_next_close" in error.value
    assert "`leaky_next_close`" in " ".join(m.value for m in at.markdown)
    assert at.success == [] or all("Clean" not in s.value for s in at.success)

    at.checkbox(key="wf.la.leaky").uncheck()
    at.button(key="wf.la.run").click().run()
    assert [e.value for e in at.error] == []
    assert any(s.value.startswith("Clean: no look-ahead found") for s in at.success)

    at.radio(key="wf.la.target").set_value("strategy").run()
    at.selectbox(key="wf.la.strategy").set_value("ma_crossover")
    at.button(key="wf.la.run").click().run()
    assert any("strategy ma_crossover" in m.value for m in at.markdown)
    assert any(s.value.startswith("Clean:") for s in at.success)


@pytest.fixture
def leaky_feature(monkeypatch: pytest.MonkeyPatch) -> str:
    """A registered feature holding the NEXT bar's return (as a plugin could add)."""
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
    return name


def test_a_leaky_feature_is_refused_then_flagged_when_overridden(leaky_feature: str) -> None:
    """Regression: the page ran a next-return feature and showed Sharpe ~7 with no warning."""
    at = open_app("walkforward")
    at.radio(key="wf.kind").set_value("model").run()
    _set_folds(at, 2)
    at.number_input(key="wf.horizon").set_value(1)
    at.multiselect(key="wf.features.ohlcv_daily.SP500").set_value(["ret_1", leaky_feature])
    _run_job(at)
    errors = " ".join(e.value for e in at.error).lower()
    assert f"refused: feature(s) {leaky_feature}" in errors
    # the error is open beside the features (in the form), besides the job panel's
    (form,) = at.get("form")
    beside = [e.value for e in form.error]
    assert len(beside) == 1 and beside[0].endswith("Correct this field and run again.")
    assert leaky_feature in beside[0] and at.get("progress") == []
    assert run_store.list_runs(kind="walkforward") == []

    at.checkbox(key="wf.allow_lookahead").check()
    _run_job(at)
    shown = [e.value for e in at.error]
    assert any("LOOK-AHEAD CHECK OVERRIDDEN" in e for e in shown)
    assert any("implausible out-of-sample Sharpe" in e for e in shown)
    (saved,) = run_store.list_runs(kind="walkforward")
    assert saved.metrics["oos_sharpe"] >= 4
