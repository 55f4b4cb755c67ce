"""The risk view of a live session reads the bars the session stored, not its dataset:
the risk report of a simulated session's book and the pre-trade check of an order
against it equal the figures computed here from the dataset bars the feed played (the
same bars), while the dataset itself cannot be read."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from app.operations.paper import PaperRequest, StatusRequest
from app.operations.risk import RiskCheckRequest
from app.services import paper, paper_io, paper_view, risk_cache
from app.services import risk as risk_service
from core.paper.session import SessionIO, common_calendar
from core.risk import portfolio_risk
from core.risk.state import build_portfolio_state
from tests.fakes.slept_clock import FakeTime

SYMBOLS = ["AAPL", "MSFT", "IBM"]
TRAIN, STEPS = 260, 40


def _no_dataset(*_args: object, **_kw: object) -> pd.DataFrame:
    raise AssertionError("a live session's risk is read from the bars it stored")


def test_a_simulated_sessions_risk_comes_from_its_stored_bars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeTime()
    request = PaperRequest(feed="simulated", symbols=SYMBOLS, train_bars=TRAIN, session="live")
    summary = paper.run_worker(request, steps=STEPS, speed=50.0, sleep=fake.sleep, clock=fake.clock)
    assert summary["cycles"] == STEPS
    frames = {s: paper_io.IO.frames("ohlcv_daily", s) for s in SYMBOLS}  # what the feed played
    calendar = common_calendar(frames)
    view = paper.monitor(StatusRequest(session="live"))
    assert view.session is not None and view.account is not None
    cursor_ts = pd.Timestamp(view.session["cursor_ts"]).tz_localize(None)
    assert cursor_ts == calendar[TRAIN + STEPS - 1]
    closes = pd.DataFrame({s: frames[s]["close"].loc[calendar] for s in SYMBOLS})
    history = closes.loc[:cursor_ts].pct_change().dropna().tail(250)
    held = {r.symbol: r.qty for r in view.positions.itertuples() if abs(r.qty) > 1e-9}
    assert held, "the session holds something to measure"
    # the worker marked its book at the cursor's closes
    for sym in held:
        (row,) = [r for r in view.positions.itertuples() if r.symbol == sym]
        assert row.last_price == pytest.approx(closes.loc[cursor_ts, sym], rel=1e-12)

    monkeypatch.setattr(paper_view, "IO", SessionIO(paper_io.IO.broker_for, _no_dataset))
    monkeypatch.setattr(risk_cache, "load_prices", _no_dataset)  # where the check reads a dataset
    report = paper.risk_report(view)
    assert report is not None
    snapshots = view.equity
    expected = portfolio_risk(
        build_portfolio_state(
            equity=view.account["equity"],
            cash=view.account["cash"],
            positions=held,
            prices={s: float(closes.loc[cursor_ts, s]) for s in held},
            bar=view.session["cursor"],
            equity_at_close=dict(zip(snapshots["bar"], snapshots["equity"], strict=True)),
            peak_equity=view.session["peak_equity"],
            returns_history=history,
        ),
        paper_io.limits(),
    )
    assert math.isfinite(report.var_hist) and report.var_hist > 0
    assert report.var_hist == pytest.approx(expected.var_hist, rel=1e-12)
    assert report.volatility == pytest.approx(expected.volatility, rel=1e-12)
    assert report.weights == pytest.approx(expected.weights, rel=1e-12)

    check = risk_service.check_order(RiskCheckRequest(session="live", symbol="IBM", qty=1))
    assert check.price == pytest.approx(closes.loc[cursor_ts, "IBM"], rel=1e-12)
    assert check.equity == view.account["equity"]
    # a symbol the session does not trade is priced by the dataset: on a calendar the
    # session's bars do not share, the check is refused with a sentence
    later = pd.DataFrame({"close": [10.0, 11.0]}, index=pd.bdate_range("2030-01-01", periods=2))
    monkeypatch.setattr(risk_cache, "load_prices", lambda *_a: later)
    with pytest.raises(LookupError, match="SP500 has no close at the bars of paper session"):
        risk_service.check_order(RiskCheckRequest(session="live", symbol="SP500", qty=1))
