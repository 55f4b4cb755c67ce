"""The tear sheet as a long-running operation: stages reported in order, cancellation
between them (nothing saved), and the HTML kept with its run so a job's result reopens."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from app.operations import Cancelled, CancelToken, get
from app.operations.backtest import BacktestRequest, ReportRequest
from app.services import backtest, report
from app.services import runs as run_store
from tests.app.test_cli import workbench

REQUEST = ReportRequest(strategy="ma_crossover", params={"fast": 20, "slow": 100})
SHORT = "2018-01-01"
"""Where the tests that assert no bar count start: the last year (251 bars) renders a
tear sheet in a fraction of the time of all 5,031."""


def test_a_new_report_saves_its_backtest_and_html_and_reports_each_stage() -> None:
    op = get("report")
    assert op.long_running and op.function() is report.report
    steps: list[tuple[float, str]] = []
    outcome = op.run(REQUEST, progress=lambda f, m: steps.append((f, m)), cancel=CancelToken())
    payload = op.payload(outcome)
    assert payload == {
        "bytes": len(outcome.html),
        "run_id": outcome.run_id,
        "html_path": str(run_store.run_folder(outcome.run_id) / "tearsheet.html"),
    }
    assert Path(payload["html_path"]).read_text(encoding="utf-8") == outcome.html
    assert report.saved_tearsheet(outcome.run_id) == Path(payload["html_path"])
    assert [f for f, _ in steps] == [0.3, 0.9, 1.0]
    assert steps[0][1] == "backtest done: 5,031 bars"
    assert steps[-1][1] == f"tear sheet of run {outcome.run_id} saved"
    # the saved backtest is the one a plain backtest run saves
    plain = backtest.run_backtest(BacktestRequest(**REQUEST.model_dump(exclude={"run_id"})))
    stored, again = backtest.reopen_backtest(outcome.run_id), backtest.reopen_backtest(plain.run_id)
    for mine, theirs in [
        (stored.metrics, again.metrics),
        (stored.benchmark_metrics, again.benchmark_metrics),
    ]:
        assert pd.Series(mine).equals(pd.Series(theirs))  # NaN (no losing trade) equals NaN
    assert stored.equity.equals(again.equity) and stored.trades.equals(again.trades)
    assert run_store.get_run(outcome.run_id).spec == run_store.get_run(plain.run_id).spec


def test_a_report_of_a_saved_run_keeps_the_html_with_that_run() -> None:
    saved = backtest.run_backtest(BacktestRequest(strategy="buy_and_hold", start=SHORT))
    with pytest.raises(LookupError, match="no tear sheet yet"):
        report.saved_tearsheet(saved.run_id)
    steps: list[str] = []
    outcome = get("report").run(
        ReportRequest(run_id=saved.run_id), progress=lambda f, m: steps.append(m)
    )
    assert outcome.run_id == saved.run_id
    assert steps[0] == f"backtest run {saved.run_id} reopened"
    assert report.saved_tearsheet(saved.run_id).read_text(encoding="utf-8") == outcome.html
    assert [r.id for r in run_store.list_runs()] == [saved.run_id]


@pytest.mark.parametrize("stage", [1, 2])
def test_a_cancel_between_stages_stops_and_saves_nothing(stage: int) -> None:
    token, seen = CancelToken(), []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if len(seen) == stage:
            token.cancel("user asked")

    with pytest.raises(Cancelled, match="user asked"):
        get("report").run(
            ReportRequest(**REQUEST.model_dump(exclude={"start"}), start=SHORT),
            progress=progress,
            cancel=token,
        )
    assert seen == [0.3, 0.9][:stage]
    assert run_store.list_runs() == []


def test_cli_report_without_out_keeps_the_tear_sheet_with_its_run(isolated_workbench: Path) -> None:
    out = workbench(
        "report", "--strategy", "buy_and_hold", "--start", SHORT, "--json", var=isolated_workbench
    )
    assert out.returncode == 0, out.stdout + out.stderr
    payload = json.loads(out.stdout)
    assert "out" not in payload
    assert Path(payload["html_path"]) == report.saved_tearsheet(payload["run_id"])
    text = workbench("report", "--run", str(payload["run_id"]), var=isolated_workbench)
    assert text.stdout.strip() == f"wrote {payload['html_path']} ({payload['bytes']:,} bytes)"
