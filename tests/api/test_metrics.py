"""``GET /metrics`` of a real ``workbench api`` with two worker processes in
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``): the scrape sums
both processes, labels stay bounded (route templates, known methods), and promtool
accepts it. (One process: tests/deploy/test_metrics_exporters.py.)"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.server import live_api
from tests.deploy.test_metrics_exporters import samples, value
from tests.deploy.test_promtool import check_metrics

pytestmark = pytest.mark.timeout(300)
MISSES = 24


def test_two_workers_in_multiprocess_mode_count_every_request_once(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with live_api(tmp_path / "var", workers=2, env=env) as api:
        with httpx.Client(base_url=api.url) as client:  # new connections: either process
            for k in range(MISSES):
                answer = httpx.get(f"{api.url}/missing/{k}", headers={"Connection": "close"})
                assert answer.status_code == 404
            assert client.request("PROPFIND", "/metrics").status_code == 405
            text = client.get("/metrics").text
    check_metrics(text)
    miss = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(text, "workbench_api_requests_total", **miss) == MISSES
    assert value(text, "workbench_api_request_seconds_count", method="GET", route="unmatched") == (
        MISSES
    )
    webdav = {"method": "other", "route": "/metrics", "status": "405"}
    assert value(text, "workbench_api_requests_total", **webdav) == 1
    routes = {dict(labels).get("route") for _name, labels in samples(text)}
    assert not any(r and r.startswith("/missing") for r in routes), routes
    assert list(shared.glob("*.db")), "the processes wrote no metric files"
