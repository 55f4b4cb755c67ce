"""Live scrapes of the three exporters, as real processes on one SQLite database: a paper
worker (``paper run --metrics-port``, a registered model in the loop on the simulated
feed), a jobs worker (``jobs worker --metrics-port``) and the API (``workbench api``).

Each scrape passes ``promtool check metrics``; its values are the database's (fills,
orders and equity of the session; job durations and queue depth) or the requests sent;
and every metric a Grafana panel or variable queries is in a scrape.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.server import free_port, live_api
from tests.cli_helpers import ROOT, start_worker
from tests.deploy.test_promtool import check_metrics
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(600)
SYMBOLS = ["AAPL", "MSFT"]
FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]
BARS = 40
"""Bars the paper worker processes before it is paused and scraped (at least)."""
API_SCRAPES, API_MISSES, API_JOB_LOOKUPS = 5, 3, 2


@dataclass(frozen=True)
class Scrapes:
    """What the exporters served, and the database at that moment."""

    var: Path
    paper: str
    jobs: str
    api: str
    sweep: tuple[float, int]
    """The finished sweep's duration (seconds, from its stored timestamps) and queued jobs."""
    oldest_wait: tuple[float, float]
    """Bounds of the oldest queued job's age at the jobs scrape: from its stored creation
    time to the wall clock just before and just after that scrape (seconds)."""


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(sample name, labels): value}`` of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` of an exposition (KeyError naming it when absent)."""
    key = (name, frozenset(labels.items()))
    found = samples(text)
    if key not in found:
        raise KeyError(f"{name}{labels} is not in the scrape")
    return found[key]


def scrape(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def _scraped(port: int) -> str | None:
    try:
        return scrape(port)
    except httpx.HTTPError:
        return None


def _db(var: Path, query: str, *args: object) -> list[tuple]:
    con = sqlite3.connect(var / "workbench.db", timeout=30)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def _champion() -> None:
    """Train and promote the model the paper session trades with (probe@champion)."""
    from app.operations.registry import PromoteRequest, RegisterRequest
    from app.operations.training import TrainRequest
    from app.services import registry
    from app.services.training import train

    outcome = train(TrainRequest(kind="logistic", features=FEATURES, symbol="AAPL"))
    assert outcome.run_id is not None
    version = registry.register(RegisterRequest(run_id=outcome.run_id, name="probe")).id
    registry.promote(PromoteRequest(version_id=version, reason="the metrics test's model"))


def _paper_scrape(var: Path, proc: subprocess.Popen[bytes], port: int, log: Path) -> str:
    """Wait for BARS bars, pause the worker, wait for its paused beat; then scrape."""
    from app.operations.paper import PauseRequest
    from app.services import paper

    def bars_done() -> bool:
        assert proc.poll() is None, log.read_text()
        text = _scraped(port)
        return (
            text is not None
            and "workbench_paper_bars_total{" in text
            and (value(text, "workbench_paper_bars_total", session="metrics") >= BARS)
        )

    wait_until(bars_done, f"the paper worker to process {BARS} bars", timeout_s=300)
    paper.set_state(PauseRequest(reason="scrape a still book"))
    last_beat = "SELECT status FROM worker_heartbeat ORDER BY id DESC LIMIT 1"
    wait_until(lambda: _db(var, last_beat) == [("paused",)], "the worker's paused beat")
    text = scrape(port)
    (var / "paper_scrape.txt").write_text(text)  # kept for a failure's post-mortem
    return text


@pytest.fixture(scope="module")
def scrapes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapes]:
    from app.operations.sweep import SweepRequest
    from app.operations.training import TrainRequest
    from app.services import jobs
    from app.services.auth import LOCAL
    from core.config import get_settings
    from core.sweep import GridAxis

    var = tmp_path_factory.mktemp("metrics") / "var"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_VAR_DIR", str(var))
        mp.delenv("WORKBENCH_DB_URL", raising=False)
        mp.setenv("WORKBENCH_JOBS_AUTOSTART", "0")
        get_settings.cache_clear()
        env = dict(os.environ)
        grid = {"fast": GridAxis.parse("5:20:5"), "slow": GridAxis.parse("30:60:10")}
        sweep_id = jobs.submit("sweep", SweepRequest(grid=grid), actor=LOCAL)
        for _ in range(2):  # never claimed: the worker runs sweeps only
            jobs.submit("train", TrainRequest(kind="logistic", symbol="AAPL"), actor=LOCAL)
        paper_port, jobs_port = free_port(), free_port()
        jobs_proc = start_worker(
            "--no-warm", "--kinds", "sweep", "--name", "metrics-worker",
            "--metrics-port", str(jobs_port), env=env, log=var / "jobs.log",
        )  # fmt: skip
        paper_proc: subprocess.Popen[bytes] | None = None
        paper_log = var / "paper.log"
        trainer = ThreadPoolExecutor(1).submit(_champion)  # while the API starts
        try:
            with live_api(var) as api:
                trainer.result()
                command = [sys.executable, "-m", "app.cli", "paper", "run", "--session", "metrics"]
                command += [a for s in SYMBOLS for a in ("--symbol", s)]
                command += ["--train-bars", "300", "--model", "probe@champion"]
                command += ["--feed", "simulated", "--speed", "50"]
                command += ["--metrics-port", str(paper_port), "--json"]
                with paper_log.open("wb") as out:
                    paper_proc = subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=out
                    )
                for _ in range(API_SCRAPES):
                    assert httpx.get(f"{api.url}/metrics").status_code == 200
                for path in ("/no/such/path", "/nor/this", "/api/v1/nope"):
                    assert httpx.get(f"{api.url}{path}").status_code == 404
                for job_id in (123, 456):  # no token
                    assert httpx.get(f"{api.url}/api/v1/jobs/{job_id}").status_code == 401
                api_text = httpx.get(f"{api.url}/metrics").text

            def sweep_seen() -> tuple[str, float, float] | None:
                assert jobs_proc.poll() is None, (var / "jobs.log").read_text()
                before = time.time()
                text = _scraped(jobs_port)
                after = time.time()
                done = 'workbench_job_duration_seconds_count{operation="sweep",status="done"}'
                return (text, before, after) if text is not None and done in text else None

            jobs_text, scraped_from, scraped_to = wait_until(
                sweep_seen, "the sweep's duration in the jobs scrape"
            )
            oldest = _db(
                var,
                "SELECT (min(julianday(created_at)) - 2440587.5) * 86400 FROM jobs"
                " WHERE status = 'queued'",
            )[0][0]
            started, finished = _db(
                var,
                "SELECT julianday(started_at), julianday(finished_at) FROM jobs WHERE id = ?",
                sweep_id,
            )[0]
            queued = _db(var, "SELECT count(*) FROM jobs WHERE status = 'queued'")[0][0]
            assert paper_proc is not None
            paper_text = _paper_scrape(var, paper_proc, paper_port, paper_log)
            yield Scrapes(
                var,
                paper_text,
                jobs_text,
                api_text,
                ((finished - started) * 86400, queued),
                (scraped_from - oldest, scraped_to - oldest),
            )
        finally:
            trainer.exception()  # the training thread is done (its error was raised above)
            for proc in (paper_proc, jobs_proc):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    proc.wait(timeout=60)
            get_settings.cache_clear()


@pytest.mark.parametrize("exporter", ["paper", "jobs", "api"])
def test_each_live_scrape_passes_promtool_check_metrics(scrapes: Scrapes, exporter: str) -> None:
    check_metrics(getattr(scrapes, exporter))


def test_the_paper_counters_and_gauges_are_the_sessions_ledger(scrapes: Scrapes) -> None:
    text, var = scrapes.paper, scrapes.var
    ((session_id, account_id, cursor),) = _db(
        var, "SELECT id, account_id, cursor FROM paper_sessions WHERE name = 'metrics'"
    )
    fills = _db(
        var,
        "SELECT count(*) FROM fills f JOIN orders o ON o.id = f.order_id WHERE o.account_id = ?",
        account_id,
    )[0][0]
    orders = _db(var, "SELECT count(*) FROM orders WHERE account_id = ?", account_id)[0][0]
    snapshots = _db(
        var, "SELECT bar, equity FROM equity_snapshots WHERE session_id = ? ORDER BY bar",
        session_id,
    )  # fmt: skip
    assert fills > 0 and orders > 0, "the session should have traded"
    assert value(text, "workbench_paper_fills_total", session="metrics") == fills
    assert value(text, "workbench_paper_orders_total", session="metrics") == orders
    # Every bar of this run was processed by the observer and committed before the pause.
    assert value(text, "workbench_paper_bars_total", session="metrics") == len(snapshots)
    assert snapshots[-1][0] == cursor
    assert value(text, "workbench_paper_equity", session="metrics") == snapshots[-1][1]
    peak = max(e for _, e in snapshots)
    stored_peak = _db(var, "SELECT peak_equity FROM paper_sessions WHERE id = ?", session_id)
    assert value(text, "workbench_paper_peak_equity", session="metrics") == stored_peak[0][0]
    assert stored_peak[0][0] >= peak
    drawdown = max(0.0, 1 - snapshots[-1][1] / stored_peak[0][0])
    got = value(text, "workbench_paper_drawdown_ratio", session="metrics")
    assert got == pytest.approx(drawdown, rel=1e-12, abs=1e-15)
    n_bars = value(text, "workbench_paper_bar_seconds_count", session="metrics")
    assert n_bars == len(snapshots)
    assert value(text, "workbench_paper_worker_status", session="metrics", status="paused") == 1
    assert 0 <= value(text, "workbench_paper_heartbeat_age_seconds", session="metrics") < 120
    assert value(text, "workbench_store_up", exporter="paper") == 1


def test_the_paper_scrape_has_every_stage_limit_drift_and_model_figure(scrapes: Scrapes) -> None:
    text = scrapes.paper
    found = samples(text)
    stages = {dict(k[1])["stage"] for k in found if k[0] == "workbench_paper_stage_seconds_count"}
    assert stages == {"arrival", "decision", "order"}, stages
    limits = {
        dict(k[1])["limit"] for k in found if k[0] == "workbench_paper_limit_utilization_ratio"
    }
    assert {"max_drawdown", "max_gross_exposure", "var_limit_95"} <= limits, limits
    scores = {dict(k[1])["score"] for k in found if k[0] == "workbench_paper_drift_score"}
    assert {"psi_max", "ks_max"} | {f"psi:{f}" for f in FEATURES} <= scores, scores
    assert "rows" not in scores
    probabilities = {
        dict(k[1])["symbol"]: v
        for k, v in found.items()
        if k[0] == "workbench_paper_model_up_probability_ratio"
    }
    assert set(probabilities) == set(SYMBOLS) and all(0 < p < 1 for p in probabilities.values())
    psi_max = value(text, "workbench_paper_drift_score", session="metrics", score="psi_max")
    per_feature = [
        value(text, "workbench_paper_drift_score", session="metrics", score=f"psi:{f}")
        for f in FEATURES
    ]
    assert psi_max == max(per_feature)


def test_the_jobs_scrape_is_the_queue_and_the_sweeps_duration(scrapes: Scrapes) -> None:
    text = scrapes.jobs
    seconds, queued = scrapes.sweep
    labels = {"operation": "sweep", "status": "done"}
    assert value(text, "workbench_job_duration_seconds_count", **labels) == 1
    assert value(text, "workbench_job_duration_seconds_sum", **labels) == pytest.approx(
        seconds, abs=1e-3
    )
    assert queued == 2
    assert value(text, "workbench_jobs_queue_depth", status="queued") == queued
    assert value(text, "workbench_jobs_queue_depth", status="running") == 0
    assert value(text, "workbench_jobs_worker_running_jobs") == 0
    # the two train jobs wait (the worker runs sweeps only): the oldest one's age, at the
    # moment of the scrape, from its stored creation time (1 ms: julianday's rounding)
    low, high = scrapes.oldest_wait
    assert low > 0
    assert low - 1e-3 <= value(text, "workbench_jobs_oldest_queued_age_seconds") <= high + 1e-3
    assert 0 <= value(text, "workbench_jobs_worker_heartbeat_age_seconds") < 120


def test_the_api_counts_each_request_under_its_route_template(scrapes: Scrapes) -> None:
    text = scrapes.api
    metrics = {"method": "GET", "route": "/metrics"}
    assert value(text, "workbench_api_requests_total", **metrics, status="200") == API_SCRAPES
    assert value(text, "workbench_api_request_seconds_count", **metrics) == API_SCRAPES
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(text, "workbench_api_requests_total", **unmatched) == API_MISSES
    job = {"method": "GET", "route": "/api/v1/jobs/{job_id}", "status": "401"}
    assert value(text, "workbench_api_requests_total", **job) == API_JOB_LOOKUPS
    assert "/api/v1/jobs/123" not in text and "/no/such/path" not in text


_NAME = re.compile(r"\b(workbench_[a-z0-9_]+|up)\b")


def _queried_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads (label values in quotes are left out)."""
    return set(_NAME.findall(re.sub(r'"[^"]*"', '""', expr)))


def _exported_names(text: str) -> set[str]:
    """Every sample name an exposition may show: its samples', and for each family the
    names of its type (a histogram's ``_bucket``, ``_sum``, ``_count``; ``_total``)."""
    names = {name for name, _ in samples(text)}
    for family in text_string_to_metric_families(text):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        names |= {family.name + suffix for suffix in suffixes}
    return names


def test_every_dashboard_query_reads_a_metric_the_exporters_serve(scrapes: Scrapes) -> None:
    served = set().union(*(_exported_names(t) for t in (scrapes.paper, scrapes.jobs, scrapes.api)))
    served.add("up")  # made by Prometheus for each target
    boards = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert [b.stem for b in boards] == ["models", "system", "trading"]
    checked = 0
    for board in boards:
        doc = json.loads(board.read_text())
        exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
        exprs += [v["query"]["query"] for v in doc["templating"]["list"]]
        for expr in exprs:
            names = _queried_names(expr)
            assert names, f"{board.name}: {expr!r} reads no workbench metric"
            missing = names - served
            assert not missing, f"{board.name}: {expr!r} reads {missing}, not in any scrape"
            checked += 1
    assert checked >= 25


def test_docs_metrics_lists_every_metric_served(scrapes: Scrapes) -> None:
    doc = (ROOT / "docs" / "metrics.md").read_text()
    for text in (scrapes.paper, scrapes.jobs, scrapes.api):
        for family in text_string_to_metric_families(text):
            shown = family.name + ("_total" if family.type == "counter" else "")
            assert f"`{shown}`" in doc, f"docs/metrics.md does not list {shown}"


def test_a_jobs_worker_refuses_a_taken_metrics_port(isolated_workbench: Path) -> None:
    import socket

    from tests.cli_helpers import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["jobs", "worker", "--once", "--no-warm", "--metrics-port", str(port)]
        out = run_cli(*args, var=isolated_workbench)
    assert out.returncode == 2, out.stderr
    assert f"127.0.0.1:{port}" in out.stderr and "--metrics-port" in out.stderr
    assert "Traceback" not in out.stderr
