"""The regimes route over real tokens, a real imported dataset and the real regime fit: the
latest bar's forward-filtered probabilities per symbol, equal to
:func:`app.services.regime.filtered_probabilities` for the same fit, summing to 1, read back
from the stored fit on the next call; unknown data gets a 422 naming it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from app.services.data import load_prices
from app.services.regime import filtered_probabilities
from core.regime import LABELS
from tests.api.conftest import ApiToken, MakeToken


def _prices(seed: int, bars: int = 290) -> bytes:
    """Daily closes: a calm rise, a volatile fall, a calm recovery (CSV)."""
    rng = np.random.default_rng(seed)
    third = bars // 3
    drift = np.r_[np.full(third, 0.001), np.full(third, -0.002), np.full(bars - 2 * third, 0.001)]
    vol = np.r_[np.full(third, 0.006), np.full(third, 0.025), np.full(bars - 2 * third, 0.006)]
    closes = 100 * np.exp(np.cumsum(drift + vol * rng.standard_normal(bars)))
    dates = pd.bdate_range("2016-01-04", periods=bars)
    frame = pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "close": closes.round(4)})
    return frame.to_csv(index=False).encode()


def _import(client: TestClient, token: ApiToken, name: str, csv: bytes) -> None:
    stored = client.post(
        "/api/v1/datasets",
        files={"file": (f"{name}.csv", csv)},
        data={"name": name},
        headers=token.headers,
    )
    assert stored.status_code == 200, stored.text


def test_current_probabilities_are_the_forward_filtered_ones_of_each_symbol(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    _import(client, ann, "calm", _prices(1))
    _import(client, ann, "swing", _prices(2, bars=275))
    query = {"dataset": "uploads", "symbols": ["calm", "swing"]}
    first = client.get("/api/v1/regimes", params=query, headers=ann.headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["dataset"], body["method"], body["seed"], body["refit_every"]) == (
        "uploads",
        "hmm",
        0,
        21,
    )
    assert "smoothed" not in first.text.replace("no smoothed values", "")
    assert [row["symbol"] for row in body["symbols"]] == ["calm", "swing"]
    for row in body["symbols"]:
        prices = load_prices("uploads", row["symbol"])
        expected = filtered_probabilities(prices).dropna()
        assert row["as_of"] == expected.index[-1].isoformat() == prices.index[-1].isoformat()
        assert row["first_bar"] == expected.index[0].isoformat()
        assert row["bars"] == len(prices) and row["stored"] is False
        last = expected.iloc[-1]
        for label in LABELS:
            assert math.isclose(row["probabilities"][label], last[label], abs_tol=1e-12)
        assert math.isclose(sum(row["probabilities"].values()), 1.0, abs_tol=1e-9)
        assert row["label"] == max(LABELS, key=lambda label: last[label])
        assert math.isclose(row["confidence"], last.max(), abs_tol=1e-12)

    again = client.get("/api/v1/regimes", params=query, headers=ann.headers).json()
    assert [row["stored"] for row in again["symbols"]] == [True, True]
    assert [r["probabilities"] for r in again["symbols"]] == [
        r["probabilities"] for r in body["symbols"]
    ]


def test_unknown_data_and_bad_settings_are_422s(client: TestClient, make_token: MakeToken) -> None:
    ann = make_token("ann", {"analyst"})
    regimes = "/api/v1/regimes"
    symbol = client.get(regimes, params={"symbols": "NOPE"}, headers=ann.headers)
    assert symbol.status_code == 422 and "NOPE" in symbol.json()["detail"]
    assert "SP500" in symbol.json()["detail"]  # the symbols it has
    dataset = client.get(regimes, params={"dataset": "nope", "symbols": "x"}, headers=ann.headers)
    assert dataset.status_code == 422 and "nope" in dataset.json()["detail"]
    none = client.get(regimes, headers=ann.headers)
    assert none.status_code == 422 and none.json()["fields"][0]["field"] == "symbols"
    in_sample = {"symbols": "SP500", "history": "in-sample"}
    assert client.get(regimes, params=in_sample, headers=ann.headers).status_code == 422
    _import(client, ann, "short", _prices(3, bars=60))
    short = client.get(
        regimes, params={"dataset": "uploads", "symbols": "short"}, headers=ann.headers
    )
    assert short.status_code == 422
    assert short.json()["detail"].startswith("Regimes of short in uploads: ")
    assert "252" in short.json()["detail"]
    assert client.get(regimes, params={"symbols": "SP500"}).status_code == 401
