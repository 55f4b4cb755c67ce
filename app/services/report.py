"""The tear sheet as a job: a (new or saved) backtest, its quantstats HTML, kept with the run.

The HTML is written to the backtest run's folder (:data:`TEARSHEET`), so a finished job's
result reopens and downloads from its ``run_id`` or ``html_path``
(:func:`saved_tearsheet`). A new backtest is saved only once its tear sheet is rendered:
a cancelled report saves nothing.
"""

from __future__ import annotations

from pathlib import Path

from app.operations import CancelToken, Progress
from app.operations.backtest import BacktestRequest, ReportOutcome, ReportRequest
from app.services import runs as run_store
from app.services.backtest import compute_backtest, reopen_backtest, save_backtest, tearsheet

TEARSHEET = "tearsheet.html"
"""File name of a run's tear sheet in its artifact folder."""


def report(
    request: ReportRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> ReportOutcome:
    """The tear sheet of saved run ``request.run_id``, or of a new backtest (then saved).

    ``progress`` follows the stages (backtest 0.3, rendering 0.9, saved 1.0); ``cancel``
    is checked before each stage (:class:`app.operations.Cancelled`).
    """
    report_progress, check = progress or (lambda _f, _m: None), (cancel or CancelToken()).check
    check()
    if request.run_id is not None:
        outcome = reopen_backtest(request.run_id)
        report_progress(0.3, f"backtest run {request.run_id} reopened")
    else:
        outcome = compute_backtest(
            BacktestRequest.model_validate(request.model_dump(exclude={"run_id"}))
        )
        report_progress(0.3, f"backtest done: {len(outcome.equity):,} bars")
    check()
    html = tearsheet(outcome)
    report_progress(0.9, f"tear sheet rendered ({len(html):,} bytes)")
    check()
    run_id = outcome.run_id if outcome.run_id is not None else save_backtest(outcome)
    path = run_store.write_atomically(
        run_store.run_folder(run_id) / TEARSHEET,
        lambda tmp: tmp.write_text(html, encoding="utf-8"),
        prefix=".tearsheet-",
    )
    report_progress(1.0, f"tear sheet of run {run_id} saved")
    return ReportOutcome(html, run_id, str(path))


def saved_tearsheet(run_id: int) -> Path:
    """The stored tear sheet of backtest run ``run_id``; LookupError when there is none."""
    path = run_store.run_folder(run_store.get_run(run_id).id) / TEARSHEET
    if not path.is_file():
        raise LookupError(f"run {run_id} has no tear sheet yet; build one with workbench report")
    return path


__all__ = ["TEARSHEET", "report", "saved_tearsheet"]
