"""The A/B test, tear sheet, universe backtest and batch prediction run as jobs: submitted,
run by the jobs worker in this process, finished with progress 1, and their result payload
holds the reference that reopens them (run id, tear sheet path)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.operations.abtest import CompareRequest
from app.operations.backtest import ReportRequest
from app.operations.predict import PredictRequest
from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.operations.universe import UniverseRequest
from app.services import jobs, predict, registry, report, universe
from app.services import runs as run_store
from app.services.auth import LOCAL
from app.services.training import train
from tests.app.test_cli import workbench


def _run_job(kind: str, request: BaseModel) -> dict:
    job_id = jobs.submit(kind, request, actor=LOCAL)
    assert jobs.request_of(jobs.get_job(job_id)) == request  # the spec round-trips
    assert jobs.run_pending() == 1
    job = jobs.get_job(job_id)
    assert (job.status, job.progress, job.error) == ("done", 1.0, None), job.message
    assert job.result is not None
    return job.result


def test_abtest_and_report_jobs_reopen_from_their_result() -> None:
    result = _run_job("abtest", CompareRequest(arms=["buy_and_hold", "ts_momentum"], n_boot=300))
    assert run_store.get_run(result["run_id"]).kind == "abtest"
    result = _run_job("report", ReportRequest(strategy="buy_and_hold"))
    assert Path(result["html_path"]) == report.saved_tearsheet(result["run_id"])


def test_universe_and_predict_jobs_reopen_from_their_result(tmp_path: Path) -> None:
    request = UniverseRequest(dataset="synthetic", symbols=["seed-1", "seed-2"])
    result = _run_job("universe", request)
    reopened = universe.reopen_universe(result["run_id"])
    assert reopened.table["sharpe"].tolist() == [row["sharpe"] for row in result["table"]]

    run_id = train(TrainRequest(kind="logistic", features=["ret_1", "rsi_14"])).run_id
    assert run_id is not None
    version = registry.register(RegisterRequest(run_id=run_id, name="jobbed"))
    out = tmp_path / "p.parquet"
    request = PredictRequest(model=version.id, symbols=["SP500"], out=out)
    result = _run_job("predict", request)
    assert result["out"] == str(out) and out.is_file()
    assert len(predict.reopen_predictions(result["run_id"]).frame) == result["rows"]


@pytest.mark.parametrize(
    "command", [["universe", "--dataset", "synthetic"], ["report", "--strategy", "buy_and_hold"]]
)
def test_async_prints_a_job_id_without_running_it(
    command: list[str], isolated_workbench: Path
) -> None:
    out: subprocess.CompletedProcess[str] = workbench(
        *command, "--async", "--json", var=isolated_workbench
    )
    assert out.returncode == 0, out.stdout + out.stderr
    job = jobs.get_job(int(json.loads(out.stdout)["job_id"]))
    assert job.kind == command[0] and job.status == "queued"
