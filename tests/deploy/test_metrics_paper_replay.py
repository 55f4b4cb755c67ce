"""The paper worker's exporter on the fast path: a replay at speed 0, whose bars commit in
groups (core/paper/group.py), paused after some bars and scraped. Every bar the observer
counted is committed, the counters are the ledger's and the equity is the last snapshot's;
promtool accepts the scrape; the exporter goes away with the run; a taken port is refused
before any work, naming the flag."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.api.server import free_port
from tests.cli_helpers import ROOT, run_cli
from tests.deploy.test_metrics_exporters import _db, _scraped, value
from tests.deploy.test_promtool import check_metrics
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(600)
RUN = ["paper", "run", "--session", "replay", "--symbol", "SP500", "--train-bars", "300"]
BARS = 100


def test_a_grouped_replay_paused_mid_way_exports_the_committed_ledger(
    isolated_workbench: Path,
) -> None:
    from app.operations.paper import KillRequest, PauseRequest
    from app.services import paper

    var, port = isolated_workbench, free_port()
    log = var.parent / "paper.log"
    command = [sys.executable, "-m", "app.cli", *RUN, "--metrics-port", str(port), "--json"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=out)
    try:

        def counted() -> bool:
            assert proc.poll() is None, log.read_text()
            text = _scraped(port)
            return (
                bool(text)
                and "workbench_paper_bars_total{" in str(text)
                and (value(str(text), "workbench_paper_bars_total", session="replay") >= BARS)
            )

        wait_until(counted, f"{BARS} replayed bars in the scrape", timeout_s=300)
        paper.set_state(PauseRequest(reason="scrape a still book"))
        beat = "SELECT status FROM worker_heartbeat ORDER BY id DESC LIMIT 1"
        wait_until(lambda: _db(var, beat) == [("paused",)], "the worker's paused beat")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        check_metrics(text)
        ((session_id, account_id),) = _db(
            var, "SELECT id, account_id FROM paper_sessions WHERE name = 'replay'"
        )
        fills = _db(
            var,
            "SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id "
            "WHERE o.account_id = ?",
            account_id,
        )[0][0]
        orders = _db(var, "SELECT count(*) FROM orders WHERE account_id = ?", account_id)[0][0]
        snapshots = _db(
            var,
            "SELECT equity FROM equity_snapshots WHERE session_id = ? ORDER BY bar",
            session_id,
        )
        assert orders > 0 and fills > 0
        assert value(text, "workbench_paper_bars_total", session="replay") == len(snapshots)
        assert value(text, "workbench_paper_fills_total", session="replay") == fills
        assert value(text, "workbench_paper_orders_total", session="replay") == orders
        assert value(text, "workbench_paper_equity", session="replay") == snapshots[-1][0]
        for stage in ("arrival", "decision", "order"):  # a replay has no live stages
            labels = {"session": "replay", "stage": stage}
            assert value(text, "workbench_paper_stage_seconds_count", **labels) == 0
        paper.set_state(KillRequest(reason="done", flatten=False))
        assert proc.wait(timeout=120) == 0, log.read_text()
        assert _scraped(port) is None, "the exporter should end with the run"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)


def test_a_taken_metrics_port_is_refused_before_any_work(isolated_workbench: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli(*RUN, "--steps", "1", "--metrics-port", str(port), var=isolated_workbench)
    assert out.returncode == 2, out.stderr
    assert f"127.0.0.1:{port}" in out.stderr and "--metrics-port" in out.stderr
    assert "Traceback" not in out.stderr
    assert _db(isolated_workbench, "SELECT count(*) FROM equity_snapshots") == [(0,)]
