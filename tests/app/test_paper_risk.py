"""One portfolio state: the worker, the pre-trade check (``workbench risk check``) and the
risk report read the same daily loss from the same ledger.

The day starts at the equity of the previous bar's close. The check used to start the
day at the current equity (a daily loss of 0, whatever the book lost).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.operations.paper import PaperRequest
from app.operations.risk import LimitsChangeRequest, RiskCheckRequest
from app.services import paper, risk

LOOSE = {
    "max_weight_per_asset": 1,
    "max_gross_exposure": 1,
    "var_limit_95": 1,
    "max_concentration": 1,
    "max_order_notional": 1_000_000,
}


def test_the_check_the_report_and_the_worker_agree_on_the_daily_loss(
    isolated_workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    original = paper._alert_hook

    def factory(symbols: list[str]) -> Any:
        alerts = original(symbols)

        def hook(report: Any) -> None:
            alerts(report)
            seen.append(report)

        return hook

    monkeypatch.setattr(paper, "_alert_hook", factory)
    paper.run_worker(PaperRequest(symbols=["SP500"], train_bars=260, selector="ucb"), steps=7)
    last = seen[-1]
    assert last.bar == 266
    # what the worker saw at its last bar: the close against the previous close
    worker_loss = 1 - last.equity / last.start_of_day_equity
    assert worker_loss > 0.004  # the book lost about 0.52% on this bar
    view = paper.monitor()
    previous_close = view.equity.set_index("bar")["equity"][265]
    assert last.start_of_day_equity == previous_close

    report = paper.risk_report(view)
    assert report is not None
    assert report.daily_loss == pytest.approx(worker_loss, rel=1e-12)

    # the check refuses new risk at a limit just below that loss, allows it just above
    check = RiskCheckRequest(symbol="NASDAQ", qty=1, side="buy")
    tight = {**LOOSE, "max_daily_loss": worker_loss * 0.999}
    risk.set_limits(LimitsChangeRequest(values=tight, reason="just below today's loss"))
    blocked = risk.check_order(check).decision
    assert not blocked.approved
    assert f"daily loss {worker_loss:.2%} >= limit" in "; ".join(blocked.rejection_reasons)
    roomy = {**LOOSE, "max_daily_loss": worker_loss * 1.001}
    risk.set_limits(LimitsChangeRequest(values=roomy, reason="just above today's loss"))
    allowed = risk.check_order(check).decision
    assert allowed.approved and allowed.allowed_quantity == 1
