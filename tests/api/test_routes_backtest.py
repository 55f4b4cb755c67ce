"""The synchronous backtest route: the same numbers as the backtest service for the same
request (what ``workbench backtest --json`` prints), a saved run, and plain 422s."""

from __future__ import annotations

import math
from datetime import date

from fastapi.testclient import TestClient

from app.operations.backtest import BacktestRequest, backtest_payload
from app.services import runs
from app.services.backtest import run_backtest
from app.services.data import load_prices
from tests.api.conftest import MakeToken

REQUEST = {
    "dataset": "ohlcv_daily",
    "symbol": "SP500",
    "strategy": "ma_crossover",
    "params": {"fast": 10, "slow": 40},
    "start": "2008-01-01",
    "end": "2011-12-31",
    "fees": 0.001,
}


def _same(api: object, service: object) -> bool:
    if isinstance(service, float) and isinstance(api, float | int):
        return math.isclose(api, service, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(service, float) and math.isnan(service):
        return api is None  # JSON has no NaN
    if isinstance(service, dict) and isinstance(api, dict):
        return api.keys() == service.keys() and all(_same(api[k], service[k]) for k in service)
    return api == service


def test_the_api_backtest_is_the_services_for_the_same_request(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    response = client.post("/api/v1/backtest", json=REQUEST, headers=ann.headers)
    assert response.status_code == 200, response.text
    api = response.json()
    service = backtest_payload(run_backtest(request=BacktestRequest(**REQUEST)))
    assert api["run_id"] != service["run_id"]  # two saved runs
    assert _same({**api, "run_id": None}, {**service, "run_id": None})
    prices = load_prices("ohlcv_daily", "SP500", start=date(2008, 1, 1), end=date(2011, 12, 31))
    assert api["bars"] == len(prices) and api["fees"] == 0.001
    assert api["n_trades"] > 0 and -1 < api["total_return"] < 1
    saved = runs.get_run(api["run_id"])
    assert saved.kind == "backtest" and saved.spec["params"] == {"fast": 10, "slow": 40}


def test_bad_backtests_are_422s_naming_the_problem(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    url = "/api/v1/backtest"
    windows = client.post(
        url, json={**REQUEST, "params": {"fast": 50, "slow": 10}}, headers=ann.headers
    )
    assert windows.status_code == 422 and windows.json()["fields"]
    dates = client.post(
        url, json={**REQUEST, "start": "2012-01-01", "end": "2011-01-01"}, headers=ann.headers
    )
    assert dates.status_code == 422
    symbol = client.post(url, json={**REQUEST, "symbol": "NOPE"}, headers=ann.headers)
    assert symbol.status_code == 422 and "NOPE" in symbol.json()["detail"]
    strategy = client.post(url, json={**REQUEST, "strategy": "nope"}, headers=ann.headers)
    assert strategy.status_code == 422 and strategy.json()["fields"][0]["field"] == "strategy"
    assert client.post(url, json=REQUEST).status_code == 401
