"""Online predictions over real HTTP (one ``workbench api`` process on 127.0.0.1): a bar's
probability equals batch ``predict``'s for it, ``as_of`` reads no later bar (two imports
that differ only after it agree at it), a batch equals its singles, a feature row is
scored as the model scores it, and refusals are 401 / 404 / 422 with plain sentences."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from app.operations.predict import PredictRequest
from app.operations.registry import PromoteRequest, RegisterRequest
from app.operations.training import TrainRequest
from app.services import data, registry
from app.services.auth import LOCAL
from app.services.predict import run_predict
from app.services.training import train
from tests.api.conftest import create_token
from tests.api.server import live_api

FEATURES = ["ret_1", "rsi_14", "vol_21", "zscore_20"]
CUT = date(2010, 3, 15)


@dataclass(frozen=True)
class Served:
    """One API process for the module, its runtime folder and the model it serves."""

    url: str
    var: Path
    headers: dict[str, str]
    version_id: int


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Training a model and starting ``workbench api`` once for the module (each takes
    seconds): the tests share this folder, its database and the model registered here."""
    from core.config import get_settings

    var = tmp_path_factory.mktemp("predictions") / "var"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WORKBENCH_VAR_DIR", str(var))
        get_settings.cache_clear()
        run_id = train(TrainRequest(kind="logistic", features=FEATURES, horizon=5)).run_id
        assert run_id is not None
        version_id = registry.register(RegisterRequest(run_id=run_id, name="spx")).id
        token = create_token("ana", {"analyst"}, rate_per_s=1_000.0)
        with live_api(var) as server:
            yield Served(server.url, var, token.headers, version_id)
    get_settings.cache_clear()


@pytest.fixture
def api(served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """A client of the module's API; this test's own service calls use its folder too."""
    from core.config import get_settings

    monkeypatch.setenv("WORKBENCH_VAR_DIR", str(served.var))
    get_settings.cache_clear()
    with httpx.Client(base_url=served.url, headers=served.headers, timeout=60) as client:
        yield client
    get_settings.cache_clear()


def _batch_at(version_id: int, symbol: str, end: date, dataset: str = "ohlcv_daily") -> tuple:
    """The batch predict operation's last row up to ``end``: (date, probability)."""
    request = PredictRequest(model=version_id, dataset=dataset, symbols=[symbol], end=end)
    last = run_predict(request).frame.iloc[-1]
    return str(last["date"].date()), float(last["probability"])


def test_a_prediction_equals_batch_predict_and_a_batch_equals_its_singles(
    api: httpx.Client, served: Served
) -> None:
    version_id = served.version_id
    latest = api.post("/api/v1/predictions", json={"model": version_id, "symbol": "SP500"})
    assert latest.status_code == 200, latest.text
    body = latest.json()
    assert body["model"] == {"id": version_id, "name": "spx", "version": 1, "stage": "candidate"}
    assert body["threshold"] == 0.5 and body["dataset"] == "ohlcv_daily"
    assert (body["as_of"], body["probability"]) == _batch_at(
        version_id, "SP500", date(2018, 12, 31)
    )
    # a Sunday: the Friday before is the bar scored, by id or by reference
    sunday = {"model": "spx:1", "symbol": "AAPL", "as_of": "2010-03-14"}
    at = api.post("/api/v1/predictions", json=sunday).json()
    assert (at["as_of"], at["probability"]) == _batch_at(version_id, "AAPL", date(2010, 3, 14))
    assert at["as_of"] == "2010-03-12"

    symbols = ["SP500", "AAPL", "GOOG", "NASDAQ"]
    when = {"model": version_id, "as_of": "2004-06-01"}
    batch = api.post("/api/v1/predictions/batch", json={**when, "symbols": symbols})
    assert batch.status_code == 200, batch.text
    rows = batch.json()["predictions"]
    assert [r["symbol"] for r in rows] == symbols
    for row in rows:
        single = api.post("/api/v1/predictions", json={**when, "symbol": row["symbol"]})
        if row["symbol"] == "GOOG":  # listed in August 2004: no bar scored by then
            assert row["probability"] is None and "first scored bar is 2004-" in row["error"]
            assert single.status_code == 422 and single.json()["fields"][0]["field"] == "as_of"
        else:
            assert single.status_code == 200, single.text
            assert (row["as_of"], row["probability"]) == (
                single.json()["as_of"], single.json()["probability"]
            )  # fmt: skip


def test_as_of_reads_no_later_bar_of_an_imported_dataset(api: httpx.Client, served: Served) -> None:
    version_id = served.version_id
    prices = data.load_prices("ohlcv_daily", "SP500")
    changed = prices.copy()
    later = changed.index > pd.Timestamp(CUT)
    changed.loc[later, ["open", "high", "low", "close"]] *= np.linspace(0.5, 2.0, int(later.sum()))[
        :, None
    ]
    for name, frame in (("acme", prices), ("acme_changed", changed)):
        data.import_upload(name, f"{name}.csv", frame.rename_axis("date").to_csv().encode())

    def at(symbol: str, as_of: str | None) -> dict:
        body = {"model": version_id, "dataset": "uploads", "symbol": symbol, "as_of": as_of}
        response = api.post("/api/v1/predictions", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    same, other = at("acme", CUT.isoformat()), at("acme_changed", CUT.isoformat())
    assert same["as_of"] == other["as_of"] == CUT.isoformat()
    assert same["probability"] == other["probability"]
    assert (same["as_of"], same["probability"]) == _batch_at(version_id, "acme", CUT, "uploads")
    assert at("acme", None)["probability"] != at("acme_changed", None)["probability"]


def test_a_feature_row_is_scored_as_the_model_scores_it(api: httpx.Client, served: Served) -> None:
    version_id = served.version_id
    row = {"ret_1": 0.01, "rsi_14": 61.0, "vol_21": 0.18, "zscore_20": 1.2}
    sent = api.post(
        "/api/v1/predictions", json={"model": version_id, "symbol": "mine", "features": row}
    )
    assert sent.status_code == 200, sent.text
    model = registry.load_version(version_id)
    expected = model.predict_proba(pd.DataFrame([row])[FEATURES])[0, 1]
    assert sent.json()["probability"] == pytest.approx(expected, abs=1e-12)
    assert sent.json()["as_of"] is None

    wrong = api.post(
        "/api/v1/predictions",
        json={"model": version_id, "symbol": "mine", "features": {"ret_1": 0.0, "rsi": 50.0}},
    )
    assert wrong.status_code == 422
    problem = wrong.json()["fields"][0]
    assert problem["field"] == "features"
    assert "unknown rsi; missing rsi_14, vol_21, zscore_20" in problem["message"]


def test_refusals_are_401_404_and_422_with_sentences(api: httpx.Client, served: Served) -> None:
    assert httpx.post(f"{served.url}/api/v1/predictions", json={}).status_code == 401
    version_id = served.version_id
    unknown = api.post("/api/v1/predictions", json={"model": 99, "symbol": "SP500"})
    assert unknown.status_code == 404
    assert f"no model version 99; known versions: {version_id} (spx v1" in unknown.json()["detail"]
    champion = api.post("/api/v1/predictions", json={"model": "spx@champion", "symbol": "SP500"})
    assert champion.status_code == 404 and "has no champion" in champion.json()["detail"]

    bad_symbol = api.post("/api/v1/predictions", json={"model": version_id, "symbol": "TSLA"})
    assert bad_symbol.status_code == 422
    problem = bad_symbol.json()["fields"][0]
    assert problem["field"] == "symbol"
    assert "TSLA not in dataset ohlcv_daily; its symbols are AAPL, GOOG" in problem["message"]
    batch = api.post(
        "/api/v1/predictions/batch", json={"model": version_id, "symbols": ["SP500", "X", "Y"]}
    )
    assert batch.status_code == 422 and "X, Y not in dataset ohlcv_daily" in batch.json()["detail"]
    for body, words in (
        ({"model": "spx", "symbol": "SP500"}, "write NAME:VERSION"),
        ({"model": 0, "symbol": "SP500"}, "at least 1"),
        ({"model": version_id, "symbol": "SP500", "dataset": "nope"}, "Unknown dataset 'nope'"),
        ({"model": version_id, "symbol": "SP500", "as_of": "1990-01-02"}, "first scored bar"),
    ):
        refused = api.post("/api/v1/predictions", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert words in refused.json()["detail"], refused.text
    too_many = {"model": version_id, "symbols": [f"S{i}" for i in range(501)]}
    assert api.post("/api/v1/predictions/batch", json=too_many).status_code == 422


def test_a_promotion_applies_to_the_next_prediction(api: httpx.Client, served: Served) -> None:
    by_id = {"model": served.version_id, "symbol": "IBM"}
    assert api.post("/api/v1/predictions", json=by_id).json()["model"]["stage"] == "candidate"
    registry.promote(PromoteRequest(version_id=served.version_id, reason="test"), actor=LOCAL)
    now = api.post("/api/v1/predictions", json=by_id).json()
    champion = api.post("/api/v1/predictions", json={**by_id, "model": "spx@champion"})
    assert champion.status_code == 200, champion.text
    assert now["model"]["stage"] == champion.json()["model"]["stage"] == "champion"
    assert now["probability"] == champion.json()["probability"]
