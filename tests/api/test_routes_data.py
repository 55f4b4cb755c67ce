"""The dataset routes over real tokens and the real data service: the listing, an upload
validated with the Data page's checks (declared formats, every defect), an import with the
analyst role, and the upload limit enforced before the body is read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.operations.data import DataValidateRequest, validate_payload
from app.services import data
from core.config import get_settings
from tests.api.conftest import MakeToken

CLOSES = [round(100 + 3 * np.sin(i / 3) + i / 10, 2) for i in range(40)]
DATES = [f"2021-03-{d:02d}" for d in range(1, 32)] + [f"2021-04-{d:02d}" for d in range(1, 10)]
CSV = ("date,close\n" + "\n".join(f"{d},{c}" for d, c in zip(DATES, CLOSES, strict=True))).encode()


def test_the_listing_is_the_services(client: TestClient, make_token: MakeToken) -> None:
    ann = make_token("ann", {"analyst"})
    listed = client.get("/api/v1/datasets", headers=ann.headers)
    assert listed.status_code == 200
    assert listed.json() == [info.as_dict() for info in data.list_datasets()]
    ohlcv = next(d for d in listed.json() if d["name"] == "ohlcv_daily")
    sp500 = next(s for s in ohlcv["symbols"] if s["symbol"] == "SP500")
    assert (sp500["rows"], sp500["interval"]) == (5031, "1D")
    assert client.get("/api/v1/datasets").status_code == 401


def test_validate_gives_the_checks_of_a_file_and_stores_nothing(
    client: TestClient, make_token: MakeToken, tmp_path: Path
) -> None:
    ann = make_token("ann", {"analyst"})
    checked = client.post(
        "/api/v1/datasets/validate", files={"file": ("prices.csv", CSV)}, headers=ann.headers
    )
    assert checked.status_code == 200, checked.text
    path = tmp_path / "prices.csv"
    path.write_bytes(CSV)
    expected = validate_payload(data.validate(DataValidateRequest(file=path)))
    assert checked.json() == {**expected, "file": "prices.csv"}
    assert (checked.json()["rows"], checked.json()["start"], checked.json()["end"]) == (
        40,
        "2021-03-01",
        "2021-04-09",
    )
    assert data.symbols_of("uploads") == []


def test_validate_reads_a_declared_format_and_lists_every_defect(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    european = "date;close\n01/03/2021;100,5\n02/03/2021;101,25\n03/03/2021;99,75\n"
    declared = {"date_format": "%d/%m/%Y", "decimal": ",", "delimiter": ";"}
    read = client.post(
        "/api/v1/datasets/validate",
        files={"file": ("eu.csv", european.encode())},
        data=declared,
        headers=ann.headers,
    )
    assert read.status_code == 200, read.text
    assert (read.json()["rows"], read.json()["start"], read.json()["end"]) == (
        3,
        "2021-03-01",
        "2021-03-03",
    )
    undeclared = client.post(
        "/api/v1/datasets/validate",
        files={"file": ("eu.csv", european.encode())},
        headers=ann.headers,
    )
    assert undeclared.status_code == 422 and undeclared.json()["defects"]
    bad_option = client.post(
        "/api/v1/datasets/validate",
        files={"file": ("eu.csv", european.encode())},
        data={"decimal": "x"},
        headers=ann.headers,
    )
    assert bad_option.status_code == 422
    assert [d["column"] for d in bad_option.json()["defects"]] == ["decimal"]
    broken = b"date,close\n2021-01-01,1\n2021-01-01,2\nnot-a-date,abc\n"
    defects = client.post(
        "/api/v1/datasets/validate", files={"file": ("b.csv", broken)}, headers=ann.headers
    )
    assert defects.status_code == 422
    body = defects.json()
    assert body["error"] == "invalid_request" and len(body["defects"]) >= 2
    assert all(d["message"] for d in body["defects"])


def test_import_needs_the_analyst_role_and_stores_the_prices(
    client: TestClient, make_token: MakeToken
) -> None:
    tom = make_token("tom", {"trader"})
    form = {"name": "mine"}
    denied = client.post(
        "/api/v1/datasets", files={"file": ("p.csv", CSV)}, data=form, headers=tom.headers
    )
    assert denied.status_code == 403 and "'analyst' role" in denied.json()["detail"]
    assert data.symbols_of("uploads") == []

    ann = make_token("ann", {"analyst"})
    stored = client.post(
        "/api/v1/datasets", files={"file": ("p.csv", CSV)}, data=form, headers=ann.headers
    )
    assert stored.status_code == 200, stored.text
    assert stored.json() == {
        "imported": "mine",
        "dataset": "uploads",
        "rows": 40,
        "start": "2021-03-01",
        "end": "2021-04-09",
        "columns": ["close"],
        "interval": "1D",
        "warnings": stored.json()["warnings"],
    }
    prices = data.load_prices("uploads", "mine")
    assert prices["close"].tolist() == CLOSES
    uploads = next(
        d
        for d in client.get("/api/v1/datasets", headers=ann.headers).json()
        if d["name"] == "uploads"
    )
    assert [(s["symbol"], s["rows"]) for s in uploads["symbols"]] == [("mine", 40)]

    taken = client.post(
        "/api/v1/datasets", files={"file": ("p.csv", CSV)}, data=form, headers=ann.headers
    )
    assert taken.status_code == 422
    assert [d["code"] for d in taken.json()["defects"]] == ["name_taken"]
    unnamed = client.post("/api/v1/datasets", files={"file": ("p.csv", CSV)}, headers=ann.headers)
    assert unnamed.status_code == 422 and unnamed.json()["fields"][0]["field"] == "name"


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """An upload limit of 8 KB (``WORKBENCH_UPLOAD_MAX_MB``); the limit in bytes."""
    monkeypatch.setenv("WORKBENCH_UPLOAD_MAX_MB", str(8 / 1024))
    get_settings.cache_clear()
    return get_settings().upload_max_bytes


def test_a_body_over_the_limit_is_refused_with_a_413(
    client: TestClient, make_token: MakeToken, small_limit: int
) -> None:
    ann = make_token("ann", {"analyst"})
    huge = b"date,close\n" + b"2021-01-01,1\n" * 20_000  # 260 KB
    declared = client.post(
        "/api/v1/datasets/validate", files={"file": ("big.csv", huge)}, headers=ann.headers
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == "too_large"
    assert "limit" in declared.json()["detail"] and "UPLOAD_MAX_MB" in declared.json()["detail"]

    boundary = "cut"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + huge
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        for start in range(0, len(body), 16_384):
            yield body[start : start + 16_384]

    headers = {**ann.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    streamed = client.post("/api/v1/datasets/validate", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "limit" in streamed.json()["detail"]

    # over the limit itself but inside the multipart slack: the validator's own 422
    just_over = b"date,close\n" + b"2021-01-01,1\n" * (small_limit // 13 + 10)
    over = client.post(
        "/api/v1/datasets",
        files={"file": ("o.csv", just_over)},
        data={"name": "o"},
        headers=ann.headers,
    )
    assert over.status_code == 422
    assert [d["code"] for d in over.json()["defects"]] == ["file_too_large"]
    assert data.symbols_of("uploads") == []


def test_a_declared_oversize_body_is_refused_before_any_of_it_is_read(
    client: TestClient, make_token: MakeToken, small_limit: int
) -> None:
    ann = make_token("ann", {"analyst"})
    app = client.app
    reads: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"authorization", ann.headers["Authorization"].encode()),
        (b"content-type", b"multipart/form-data; boundary=cut"),
        (b"content-length", str(10 * small_limit).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/datasets/validate",
        "raw_path": b"",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    assert start["status"] == 413 and "declares" in payload["detail"]
    assert reads == []
