"""Batch prediction through the service, the job runner's call and the CLI: a registered
model's probabilities equal its predict_proba on feature rows computed here, no bar sees
a later one, the run reopens, files are written by suffix, and refusals are sentences."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from app.operations import Cancelled, CancelToken, get
from app.operations.predict import FRAME_COLUMNS, PredictRequest
from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import predict, registry
from app.services import runs as run_store
from app.services.data import load_prices, symbols_of
from app.services.training import train
from core.features import compute_features
from tests.app.test_cli import workbench

FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]


def _register(kind: str = "logistic") -> int:
    run_id = train(TrainRequest(kind=kind, features=FEATURES, horizon=5)).run_id
    assert run_id is not None
    return registry.register(RegisterRequest(run_id=run_id, name=f"spx-{kind}")).id


@pytest.mark.parametrize("kind", ["logistic", "xgboost"])
def test_probabilities_equal_predict_proba_on_independent_feature_rows(kind: str) -> None:
    version_id = _register(kind)
    request = PredictRequest(model=version_id, symbols=["SP500", "AAPL"])
    steps: list[tuple[float, str]] = []
    outcome = get("predict").run(request, progress=lambda f, m: steps.append((f, m)))
    model = registry.load_version(version_id)
    train_end = pd.Timestamp(registry.list_versions()[0].train_end)
    assert list(outcome.frame.columns) == list(FRAME_COLUMNS)
    for symbol in ("SP500", "AAPL"):
        X = compute_features(load_prices("ohlcv_daily", symbol), FEATURES).dropna()
        rows = outcome.frame[outcome.frame["symbol"] == symbol]
        assert pd.DatetimeIndex(rows["date"]).equals(X.index)
        expected = model.predict_proba(X)[:, 1]
        np.testing.assert_allclose(rows["probability"], expected, rtol=0, atol=1e-12)
        assert (rows["after_train_end"] == (rows["date"] > train_end)).all()
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1][0] == 1.0
    assert steps[1][1] == f"SP500: {int((outcome.frame['symbol'] == 'SP500').sum()):,} bars scored"
    payload = get("predict").payload(outcome)
    assert payload["model"]["id"] == version_id and payload["model"]["features"] == FEATURES
    assert payload["rows"] == len(outcome.frame) and list(payload["symbols"]) == ["SP500", "AAPL"]
    json.dumps(payload, allow_nan=False)


def test_truncating_after_bar_t_does_not_change_the_probability_at_t() -> None:
    version_id = _register()
    full = predict.run_predict(PredictRequest(model=version_id, symbols=["SP500"])).frame
    full = full.set_index("date")["probability"]
    for t in (date(2003, 6, 2), date(2010, 3, 15), date(2018, 12, 31)):
        cut = predict.run_predict(PredictRequest(model=version_id, symbols=["SP500"], end=t))
        last = cut.frame.iloc[-1]
        assert last["date"] == pd.Timestamp(t)
        assert last["probability"] == full.loc[pd.Timestamp(t)]  # exactly: same rows


def test_start_keeps_the_warm_up_and_all_symbols_scores_the_dataset() -> None:
    version_id = _register()
    full = predict.run_predict(PredictRequest(model=version_id, all_symbols=True)).frame
    assert list(dict.fromkeys(full["symbol"])) == symbols_of("ohlcv_daily")
    late = predict.run_predict(
        PredictRequest(model=version_id, symbols=["GOOG"], start=date(2004, 9, 1))
    ).frame
    goog = full[(full["symbol"] == "GOOG") & (full["date"] >= pd.Timestamp(2004, 9, 1))]
    assert late["date"].iloc[0] == goog["date"].iloc[0]
    np.testing.assert_array_equal(late["probability"].to_numpy(), goog["probability"].to_numpy())


def test_the_run_reopens_and_out_writes_csv_or_parquet(tmp_path: Path) -> None:
    version_id = _register()
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"p{suffix}"
        outcome = predict.run_predict(PredictRequest(model=version_id, symbols=["IBM"], out=out))
        assert outcome.out == str(out)
        back = predict.reopen_predictions(outcome.run_id)
        pd.testing.assert_frame_equal(back.frame, outcome.frame)
        assert run_store.get_run(outcome.run_id).kind == "predictions"
        read = pd.read_csv(out, parse_dates=["date"]) if suffix == ".csv" else pd.read_parquet(out)
        assert read["date"].tolist() == outcome.frame["date"].tolist()
        np.testing.assert_allclose(read["probability"], outcome.frame["probability"], atol=1e-15)
    assert not list(tmp_path.glob(".predictions-*"))  # no temporary file left


def test_refusals_are_plain_sentences() -> None:
    with pytest.raises(LookupError, match="no model is registered yet"):
        predict.run_predict(PredictRequest(model=3, symbols=["SP500"]))
    version_id = _register()
    with pytest.raises(LookupError, match=rf"no model version 99; known versions: {version_id} "):
        predict.run_predict(PredictRequest(model=99, symbols=["SP500"]))
    with pytest.raises(ValidationError, match="not both"):
        PredictRequest(model=1, symbols=["SP500"], all_symbols=True)
    with pytest.raises(ValidationError, match="at least one symbol"):
        PredictRequest(model=1)
    with pytest.raises(ValidationError, match=r"must end in \.csv or \.parquet, not \.xlsx"):
        PredictRequest(model=1, symbols=["SP500"], out=Path("p.xlsx"))
    with pytest.raises(ValueError, match="TSLA not in dataset ohlcv_daily"):
        predict.run_predict(PredictRequest(model=version_id, symbols=["TSLA"]))
    assert run_store.list_runs(kind="predictions") == []


def test_a_cancel_between_symbols_saves_nothing() -> None:
    version_id = _register()
    token, seen = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        seen.append(message)
        if message.startswith("SP500"):
            token.cancel("user asked")

    request = PredictRequest(model=version_id, symbols=["SP500", "AAPL"])
    with pytest.raises(Cancelled, match="user asked"):
        get("predict").run(request, progress=progress, cancel=token)
    assert len(seen) == 2 and seen[0].startswith(f"model #{version_id}")
    assert run_store.list_runs(kind="predictions") == []


def test_cli_predict(isolated_workbench: Path, tmp_path: Path) -> None:
    version_id = _register()
    out = tmp_path / "p.csv"
    ok = workbench(
        "predict", "--model", str(version_id), "--dataset", "ohlcv_daily", "--symbol", "MSFT",
        "--out", str(out), "--json", var=isolated_workbench,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    payload = json.loads(ok.stdout)
    assert payload["out"] == str(out) and payload["symbols"]["MSFT"]["rows"] == payload["rows"]
    assert len(pd.read_csv(out)) == payload["rows"]
    for args, words in [
        (["--symbol", "MSFT", "--all-symbols"], "not both"),
        (["--symbol", "MSFT", "--out", "p.txt"], "must end in .csv or .parquet"),
        (["--model", "42", "--symbol", "MSFT"], "no model version 42; known versions"),
    ]:
        model = [] if "--model" in args else ["--model", str(version_id)]
        bad = workbench("predict", *model, *args, "--json", var=isolated_workbench)
        assert bad.returncode == 2 and words in bad.stdout, bad.stdout + bad.stderr


def test_a_relative_out_is_made_absolute_so_a_job_writes_where_it_was_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    request = PredictRequest(model=1, symbols=["SP500"], out=Path("sub/p.csv"))
    assert request.out == tmp_path / "sub" / "p.csv"
    assert PredictRequest.model_validate(request.model_dump(mode="json")) == request
