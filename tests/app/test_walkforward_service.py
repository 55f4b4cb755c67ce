"""Walk-forward validation and look-ahead checks (app/services/walkforward.py).

The number of trials is counted by enumerating the grid; fold windows are checked
against bar positions in the price index; the in-sample Sharpe of each fold's chosen
parameters is recomputed with an independent vectorbt backtest of that training window.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from app.operations.walkforward import LookaheadRequest, WalkForwardRequest, walkforward_payload
from app.services import runs as run_store
from app.services import walkforward as wf
from app.services.data import load_prices
from core.sweep import GridAxis
from core.walkforward.report import DSR_MEANING, PBO_MEANING
from tests.fakes import dask_local

dask_client = dask_local.dask_client  # the session's 2-worker LocalCluster (fixture)


@pytest.fixture(autouse=True)
def _on_dask(dask_client: Any) -> None:
    """The service runs its chunks on the session's 2-worker LocalCluster."""


GRID = {"fast": GridAxis.parse("5:50:5"), "slow": GridAxis.parse("20:200:20")}
PAYLOAD_KEYS = {"folds", "oos_sharpe", "is_sharpe", "deflated_sharpe", "pbo", "trials"}


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    return load_prices("ohlcv_daily", "SP500")


# --------------------------------------------------------------------------- validation


def test_request_needs_exactly_one_of_strategy_and_model() -> None:
    with pytest.raises(ValidationError, match="either a strategy with a grid or a model"):
        WalkForwardRequest(strategy="ma_crossover", grid=GRID, model="logistic")
    with pytest.raises(ValidationError, match="either a strategy with a grid or a model"):
        WalkForwardRequest()
    with pytest.raises(ValidationError, match=r"needs a grid, e\.g\. fast=5:50:5"):
        WalkForwardRequest(strategy="ma_crossover")
    with pytest.raises(ValidationError, match="model"):
        WalkForwardRequest(model="svm")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="train_bars"):
        WalkForwardRequest(model="logistic", train_bars=50)
    with pytest.raises(ValidationError, match="folds"):
        WalkForwardRequest(model="logistic", folds=0)
    with pytest.raises(ValidationError, match=r"step_bars 100 is below test_bars 250: choose 250"):
        WalkForwardRequest(model="logistic", test_bars=250, step_bars=100)
    with pytest.raises(ValidationError, match="unknown metric 'sharp'"):
        WalkForwardRequest(strategy="ma_crossover", grid=GRID, metric="sharp")
    with pytest.raises(ValidationError, match="unknown strategy 'nope'"):
        WalkForwardRequest(strategy="nope", grid=GRID)
    with pytest.raises(ValidationError, match="goes outside the valid range"):
        WalkForwardRequest(strategy="ma_crossover", grid={"fast": GridAxis.parse("0:10:1")})
    assert WalkForwardRequest(model="logistic").strategy is None


def test_too_many_folds_is_a_clear_error() -> None:
    request = WalkForwardRequest(model="logistic", train_bars=1000, test_bars=250, folds=40)
    with pytest.raises(ValueError, match="only 16 folds fit in 5031 bars, 40 requested"):
        wf.run_walkforward(request)
    assert run_store.list_runs() == []


# --------------------------------------------------------------------------- rule


def assert_report_states_its_setup(
    html: str, outcome: wf.WalkForwardOutcome, prices: pd.DataFrame
) -> None:
    """The HTML report names what was validated and how, and each figure once."""
    from core.backtest.spec import EXECUTION
    from core.ml.training import data_hash

    req = outcome.request
    assert f"<th scope='row'>Run id</th><td>#{outcome.run_id}</td>" in html
    assert f"<td>{req.fees * 1e4:g} bps ({req.fees:.2%}) per fill</td>" in html  # fees
    assert "<th scope='row'>Slippage</th>" in html and f"<td>{EXECUTION}</td>" in html
    assert outcome.data_hash == data_hash(prices) and f"<td>{data_hash(prices)}</td>" in html
    assert run_store.get_run(outcome.run_id).metrics["data_hash"] == outcome.data_hash
    for figure in (
        "Deflated Sharpe ratio",
        "Probability of backtest overfitting",
        "Out-of-sample Sharpe (stitched)",
        "In-sample Sharpe (mean of folds)",
    ):
        assert html.count(figure) == 1, figure  # fmt: skip
    assert DSR_MEANING[1:] in html and PBO_MEANING[1:] in html
    assert "00:00:00" not in html.split("<h2>Folds</h2>")[1]


def _grid_trials() -> int:
    fast = range(5, 51, 5)
    slow = range(20, 201, 20)
    return sum(1 for f, s in itertools.product(fast, slow) if f < s)


def test_rule_walkforward_ma_crossover(sp500: pd.DataFrame) -> None:
    from core.backtest import run_backtest
    from core.backtest.spec import BacktestSpec
    from core.strategies import run_strategy

    steps: list[float] = []
    request = WalkForwardRequest(strategy="ma_crossover", grid=GRID, folds=3)
    outcome = wf.run_walkforward(request, progress=lambda f, _m: steps.append(f))
    payload = walkforward_payload(outcome)
    assert PAYLOAD_KEYS <= set(payload)
    assert payload["trials"] == _grid_trials() == 90
    assert len(payload["folds"]) == 3
    # DSR recomputed with the Bailey-Lopez de Prado formula from the stitched returns,
    # deflated by all 90 grid points; PBO is the share of non-positive CSCV logits
    from tests.core.test_walkforward_overfit_golden import _dsr_by_hand

    dsr = outcome.result.dsr
    by_hand = _dsr_by_hand(outcome.result.oos_returns.to_numpy(), 90, dsr["sharpe_variance"])
    assert payload["deflated_sharpe"] == pytest.approx(by_hand["dsr"], rel=1e-9, abs=1e-12)
    assert dsr["trials"] == 90 and dsr["sr0"] == pytest.approx(by_hand["sr0"], rel=1e-12)
    detail = outcome.result.pbo_detail
    assert detail is not None and detail["n_strategies"] == 90
    assert payload["pbo"] == pytest.approx(float(np.mean(detail["logits"] <= 0)))
    assert steps == sorted(steps) and steps[-1] == 1.0

    # folds: 250-bar test windows, in time order, not overlapping, after their training
    idx = sp500.index
    previous_end = -1
    for fold in payload["folds"]:
        train_start, train_end, test_start, test_end = (
            int(idx.get_loc(pd.Timestamp(fold[k])))
            for k in ("train_start", "train_end", "test_start", "test_end")
        )
        assert train_end - train_start + 1 == 1000
        assert test_start == train_end + 1
        assert test_end - test_start + 1 == 250
        assert test_start > previous_end
        previous_end = test_end
        assert fold["params"]["fast"] < fold["params"]["slow"]
    assert previous_end <= len(idx) - 1

    # each fold's in-sample Sharpe, recomputed by vectorbt on its training window
    costs = BacktestSpec(fees=request.fees, slippage=request.slippage)
    for fold in payload["folds"]:
        train = sp500.loc[pd.Timestamp(fold["train_start"]) : pd.Timestamp(fold["train_end"])]
        positions = run_strategy("ma_crossover", train, fold["params"])
        sharpe = float(np.asarray(run_backtest(train, positions, costs).metrics["sharpe"]))
        assert sharpe == pytest.approx(fold["is_sharpe"], rel=1e-6)
    assert payload["is_sharpe"] == pytest.approx(
        np.mean([f["is_sharpe"] for f in payload["folds"]])
    )

    # the stitched out-of-sample return compounds the folds' returns
    compounded = np.prod([1.0 + f["oos_return"] for f in payload["folds"]]) - 1.0
    assert payload["oos_return"] == pytest.approx(compounded, rel=1e-9)
    assert len(outcome.result.oos_returns) == 750

    # saved as a "walkforward" run with the same numbers
    run = run_store.get_run(outcome.run_id)
    assert run.kind == "walkforward"
    assert run.metrics["trials"] == 90 and run.metrics["pbo"] == pytest.approx(payload["pbo"])
    assert run.spec["strategy"] == "ma_crossover" and run.spec["folds"] == 3
    assert len(run_store.load_frame(run, "folds")) == 3
    assert len(run_store.load_frame(run, "oos")) == 750

    html = wf.report_html(outcome)
    assert_report_states_its_setup(html, outcome, sp500)
    assert "<th scope='row'>Strategy</th><td>ma_crossover</td>" in html
    assert (
        "fast: 5, 10, 15, …, 45, 50 (10 values); slow: 20, 40, 60, …, 180, 200 (10 values)" in html
    )
    assert f"<td>{payload['deflated_sharpe']:.3f} over 90 trials (" in html
    assert f"<td>{payload['pbo']:.3f}</td>" in html
    assert f"Walk-forward report: ma_crossover on SP500, run #{outcome.run_id}" in html


def test_a_cancelled_walkforward_stops_between_folds_and_saves_nothing() -> None:
    from app.operations import Cancelled, CancelToken

    token = CancelToken()
    messages: list[str] = []

    def progress(fraction: float, message: str) -> None:
        messages.append(message)
        if message == "fold 1 of 3 done":
            token.cancel("user asked")

    request = WalkForwardRequest(strategy="ma_crossover", grid=GRID, folds=3)
    with pytest.raises(Cancelled, match="user asked"):
        wf.run_walkforward(request, progress=progress, cancel=token)
    assert messages == ["fold 1 of 3 done"]  # checked before fold 2: no further fold ran
    assert run_store.list_runs() == []


def test_the_operation_runs_the_service_with_progress_and_cancel() -> None:
    from app.operations import CancelToken, get

    op = get("walkforward")
    assert op.long_running and op.request is WalkForwardRequest
    request = WalkForwardRequest(model="logistic", folds=2, train_bars=1000, test_bars=250)
    steps: list[float] = []
    outcome = op.run(request, progress=lambda f, _m: steps.append(f), cancel=CancelToken())
    payload = op.payload(outcome)
    assert steps == [1 / 3, 2 / 3, 1.0] and len(payload["folds"]) == 2
    assert run_store.get_run(payload["run_id"]).metrics["trials"] == payload["trials"] == 1


# --------------------------------------------------------------------------- model


def test_model_walkforward_logistic(sp500: pd.DataFrame) -> None:
    request = WalkForwardRequest(model="logistic", folds=2, train_bars=1000, test_bars=250)
    outcome = wf.run_walkforward(request)
    payload = walkforward_payload(outcome)
    assert PAYLOAD_KEYS <= set(payload)
    assert payload["pbo"] is None and payload["trials"] == 1
    assert len(payload["folds"]) == 2
    idx = sp500.index
    first, second = payload["folds"]
    assert pd.Timestamp(first["test_end"]) < pd.Timestamp(second["test_start"])
    for fold in payload["folds"]:
        # the last `horizon` training rows have labels reaching into the test window
        assert fold["n_purged"] == request.horizon
        test_start = int(idx.get_loc(pd.Timestamp(fold["test_start"])))
        assert test_start == int(idx.get_loc(pd.Timestamp(fold["train_end"]))) + 1
        assert 0.3 < fold["oos_auc"] < 0.7 and fold["params"]["C"] == 1.0
    # the folds kept are the latest two that fit in the data
    assert int(idx.get_loc(pd.Timestamp(second["test_end"]))) > len(idx) - 1 - 250
    assert run_store.get_run(outcome.run_id).kind == "walkforward"
    html = wf.report_html(outcome)
    assert_report_states_its_setup(html, outcome, sp500)
    assert "<td>n/a (no grid of alternatives for a model)</td>" in html
    assert "<td>logistic, horizon 5 bars, threshold 0.50</td>" in html
    assert "<td>default parameters, no tuning</td>" in html


# --------------------------------------------------------------------------- look-ahead


def test_all_features_are_causal_on_sp500() -> None:
    report = wf.lookahead(LookaheadRequest(dataset="ohlcv_daily", symbol="SP500"))
    assert not report.leaky and report.offending_columns == ()
    assert len(report.cuts) >= 15
    assert report.message() == f"no look-ahead found over {len(report.cuts)} truncation points"


def test_leaky_demo_feature_is_flagged(sp500: pd.DataFrame) -> None:
    report = wf.lookahead(LookaheadRequest(include_leaky_demo=True))
    assert report.leaky
    assert report.offending_columns == ("leaky_next_close",)
    # next-close return is unknown on the last bar of the shortest truncation
    assert report.first_offending_bars["leaky_next_close"] == sp500.index[min(report.cuts) - 1]
    assert "leaky_next_close" in report.message()


def test_strategy_positions_are_causal() -> None:
    report = wf.lookahead(LookaheadRequest(strategy="ma_crossover", params={"fast": 10}))
    assert not report.leaky and report.offending_columns == ()


# --------------------------------------------------------------------------- leaks and flags


@pytest.fixture
def leaky_feature(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a feature that holds the NEXT bar's return (as a plugin would)."""
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


def test_model_walkforward_states_its_check_and_trial_counting() -> None:
    request = WalkForwardRequest(model="logistic", folds=2, train_bars=1000, test_bars=250)
    payload = walkforward_payload(wf.run_walkforward(request, save=False))
    assert payload["warnings"] == [] and payload["lookahead"]["leaky"] is False
    assert payload["lookahead"]["method"] == "truncation"
    assert payload["trial_counting"].startswith("1 model")
    assert 0.4 < payload["oos_auc"] < 0.6


def test_a_leaky_feature_is_refused_before_any_work(leaky_feature: str) -> None:
    request = WalkForwardRequest(
        model="logistic", features=["ret_1", leaky_feature], folds=2, horizon=1
    )
    with pytest.raises(ValueError, match=f"refused: feature\\(s\\) {leaky_feature}"):
        wf.run_walkforward(request)
    assert run_store.list_runs() == []


def test_an_overridden_leak_is_flagged_in_payload_and_report(leaky_feature: str) -> None:
    """Regression: a next-return feature gave OOS Sharpe ~7, AUC 1.0, DSR 1.0, no warning."""
    request = WalkForwardRequest(
        model="logistic",
        features=[leaky_feature],
        folds=2,
        train_bars=1000,
        test_bars=250,
        horizon=1,
        allow_lookahead=True,
    )
    outcome = wf.run_walkforward(request)
    payload = walkforward_payload(outcome)
    assert payload["oos_sharpe"] >= 4 and payload["oos_auc"] >= 0.9
    joined = " ".join(payload["warnings"])
    assert "LOOK-AHEAD CHECK OVERRIDDEN" in joined and leaky_feature in joined
    assert "implausible out-of-sample Sharpe" in joined
    assert "implausible out-of-sample AUC" in joined
    assert run_store.get_run(outcome.run_id).metrics["warnings"] == payload["warnings"]
    html = wf.report_html(outcome)
    assert html.count("<b>WARNING:</b>") == len(payload["warnings"]) == 3
    assert "implausible out-of-sample Sharpe" in html


def test_training_refuses_or_flags_a_leaky_feature(leaky_feature: str) -> None:
    from app.operations.training import TrainRequest
    from app.services.training import train

    request = TrainRequest(kind="logistic", features=["ret_1", leaky_feature], horizon=1)
    with pytest.raises(ValueError, match=leaky_feature):
        train(request, save=False)
    allowed = TrainRequest(
        kind="logistic", features=[leaky_feature], horizon=1, allow_lookahead=True
    )
    outcome = train(allowed, save=False)
    assert outcome.evaluation["roc_auc"] >= 0.9
    joined = " ".join(outcome.warnings)
    assert "LOOK-AHEAD CHECK OVERRIDDEN" in joined and "implausible out-of-sample AUC" in joined
    clean = train(TrainRequest(kind="logistic", features=["ret_1", "vol_21"]), save=False)
    assert clean.warnings == () and clean.lookahead is not None
    assert not clean.lookahead["leaky"]


def test_cli_walkforward_unwritable_out_fails_at_once(tmp_path, isolated_workbench) -> None:  # type: ignore[no-untyped-def]
    """Regression: an unwritable --out failed only after the whole run."""
    import json

    from tests.app.test_cli import workbench

    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    for bad in (blocker / "report.html", tmp_path):
        out = workbench(
            "walkforward",
            "--model",
            "logistic",
            "--folds",
            "2",
            "--out",
            str(bad),
            var=isolated_workbench,
        )
        assert out.returncode == 2, out.stderr
        assert "--out" in out.stderr and "Traceback" not in out.stderr
    runs = workbench("runs", "--json", var=isolated_workbench)
    assert json.loads(runs.stdout)["runs"] == []  # nothing ran, nothing saved
