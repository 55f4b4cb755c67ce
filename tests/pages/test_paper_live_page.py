"""The Paper trading page with a simulated-live session: started from the page, the
worker run in-process on an injected clock (what the started process runs: ``paper run
--session NAME --speed S``), the monitor refreshed as bars arrive, a planted drift firing
the drift rule, and the kill switch flattening the book. No wall-clock sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.components.paper_start import FEED_TEXT
from app.services import alerts, data, paper
from app.services.db import get_engine
from core.alerts import AlertRuleSpec
from core.paper import control
from core.store.db import session_scope
from core.store.paper import HeartbeatRepository, PaperSessionRepository
from core.store.trading import PositionRepository
from tests.fakes.slept_clock import FakeTime as _FakeTime
from tests.pages.helpers import metrics, open_app
from tests.planted_data import volatility_shift_csv

START = "FormSubmitter:paper.start_form-Start"
SYMBOLS = ["planted_a", "planted_b", "planted_c"]
"""Three uploads (the ``uploads`` dataset) on one calendar."""
N, TRAIN, SHIFT = 560, 300, 400
"""Bars of the planted dataset, warm-up bars, and the bar its volatility triples from."""
SPEED = 50.0
LEASE = 3600.0
"""The in-process worker's lease outlives the test (its renewals are on the fake clock)."""


class FakeTime(_FakeTime):
    """A wall clock that moves only when slept on (from the real time of the test's
    start: the worker's lease is read against the real clock by the page's controls)."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))


def _planted_csv(seed: int = 3) -> bytes:
    """Seeded GBM daily bars whose volatility triples from bar SHIFT."""
    return volatility_shift_csv(seed, n=N, shift=SHIFT)


def _db_positions() -> dict[str, tuple[float, float, float]]:
    """(qty, market value, realized P&L) per symbol, straight from the ledger."""
    with session_scope(get_engine()) as s:
        row = PaperSessionRepository(s).get("live1")
        assert row is not None and row.account_id is not None
        account = row.account_id
        return {
            p.symbol: (p.qty, p.qty * (p.last_price or p.avg_price), p.realized_pnl)
            for p in PositionRepository(s).list(account, include_flat=True)
        }


def _shown_book(at: AppTest) -> pd.DataFrame:
    (table,) = [d for d in at.dataframe if "position" in d.value.columns]
    return table.value.set_index("symbol")


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _run(fake: FakeTime, steps: int) -> dict[str, Any]:
    """What the started process does (``paper run --session live1 --speed 50``), here."""
    return paper.run_worker(
        "live1", steps=steps, speed=SPEED, sleep=fake.sleep, clock=fake.clock, lease_ttl_s=LEASE
    )


def test_a_simulated_session_started_from_the_page_refreshes_drifts_and_is_killed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for seed, sym in enumerate(SYMBOLS):
        data.import_upload(sym, f"{sym}.csv", _planted_csv(seed))
    alerts.save_rule(AlertRuleSpec(name="drift-major", kind="drift", threshold=0.25))
    started: list[list[str]] = []
    monkeypatch.setattr(control, "start_detached", lambda cmd, **_: started.append(cmd) or 4242)
    fake = FakeTime()

    at = open_app("paper")
    at.session_state["paper.clock"] = fake.clock
    at.toggle(key="paper.live").set_value(False).run()
    assert any("Alpaca (live bars) is not offered" in c.value for c in at.caption)
    offered = at.radio(key="paper.feed").options
    assert offered == [FEED_TEXT["replay"], FEED_TEXT["simulated"]]  # no alpaca without keys
    at.selectbox(key="paper.dataset").set_value("uploads").run()
    assert at.multiselect(key="paper.symbols").value == SYMBOLS  # no default stock here
    at.text_input(key="paper.session").set_value("live1")
    at.radio(key="paper.feed").set_value("simulated")
    at.number_input(key="paper.speed").set_value(SPEED)
    at.number_input(key="paper.train").set_value(TRAIN)
    # a refusal is shown beside its field, in words, and starts nothing
    at.text_input(key="paper.model").set_value("nosuch")
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("write NAME:VERSION" in e.value for e in at.error), [e.value for e in at.error]
    assert started == [] and paper.monitor().session is None
    at.text_input(key="paper.model").set_value("")
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("Worker started (pid 4242)" in s.value for s in at.success), at.error
    assert started[0][-5:-1] == ["--session", "live1", "--speed", str(SPEED)]

    _run(fake, 30)
    at.run()
    assert not at.exception, at.exception
    shown = _markdown(at)
    assert "SIMULATED-LIVE" in shown and "market always open (24/7 clock)" in shown
    assert "1Day bars from dataset uploads" in shown
    assert metrics(at)["Heartbeat"] == "0 s ago"  # the fake clock is the beat's
    assert any("Feed latency of the last bar" in c.value for c in at.caption)
    first_bar = metrics(at)["Bar"]
    book, db = _shown_book(at), _db_positions()
    assert list(book.index) == SYMBOLS
    for sym, (qty, value, realized) in db.items():
        assert book.loc[sym, "position"] == qty
        assert book.loc[sym, "market_value"] == pytest.approx(value, rel=1e-12)
        assert book.loc[sym, "realized_pnl"] == pytest.approx(realized, rel=1e-12, abs=1e-9)
    assert book["regime"].notna().all()
    assert "probability" not in book.columns  # the rule agents trade: no column of "None"
    assert any("the rule agents trade: no P(up)" in c.value for c in at.caption)
    assert any(abs(q) > 0 for q, _, _ in db.values())  # it trades

    # the refresh picks up the new bars
    _run(fake, 20)
    at.run()
    assert metrics(at)["Bar"] != first_bar
    view = paper.monitor()
    assert view.session is not None and view.session["cursor"] == TRAIN + 49
    book, db = _shown_book(at), _db_positions()
    assert {s: book.loc[s, "position"] for s in SYMBOLS} == {s: db[s][0] for s in SYMBOLS}

    # the volatility planted at bar SHIFT fires the drift rule while the worker runs; the
    # page shows it, pauses the worker (the cursor holds) and kills it (flattening the book)
    assert not [a for a in alerts.history() if a["kind"] == "drift"]
    seen: dict[str, Any] = {"paused_at": None, "paused_beats": 0}

    def operator(seconds: float) -> None:
        """The worker's sleep: the fake clock moves, and the user acts on the page."""
        fake.sleep(seconds)
        cursor = _cursor()
        if seen["paused_at"] is None:
            if any(a["kind"] == "drift" for a in alerts.history()):
                _drift_is_shown(at)
                at.button(key="paper.pause").click().run()
                assert any("Pause requested" in i.value for i in at.info), at.warning
                seen["paused_at"] = cursor
            return
        if _beat_status() == "paused":
            assert cursor == seen["paused_at"] + 1 or cursor == seen["paused_at"]
            seen["paused_beats"] += 1
            if seen["paused_beats"] == 3:
                seen["held"] = cursor
                at.checkbox(key="paper.confirm_kill").check()
                at.button(key="paper.kill").click().run()
                assert any("Kill switch engaged" in w.value for w in at.warning)
        assert seen.get("held") in (None, cursor)  # no bar while paused, none after the kill

    summary = paper.run_worker("live1", steps=None, speed=SPEED, sleep=operator, clock=fake.clock)
    assert summary["state"] == "killed" and seen["paused_beats"] >= 3, (summary, seen)
    assert SHIFT < seen["paused_at"] < N - 1  # fired on the planted drift, before the end
    fired = [a for a in alerts.history() if a["kind"] == "drift"]
    assert "[session live1]" in fired[0]["message"], fired
    assert all(abs(qty) < 1e-9 for qty, _, _ in _db_positions().values())
    at.run()
    assert (_shown_book(at)["position"] == 0).all()
    assert metrics(at)["Unrealized P&L"] == "$0"
    assert metrics(at)["Desired state"] == "stopped"
    (shown_alerts,) = [d for d in at.dataframe if "message" in d.value.columns]
    assert list(shown_alerts.value["status"]) == ["sent"]  # fired once; repeats counted


def _cursor() -> int:
    """Session live1's cursor, straight from its row (the full monitor view, read at every
    sleep of the worker, would cost more than the bars)."""
    with session_scope(get_engine()) as s:
        row = PaperSessionRepository(s).get("live1")
        return -1 if row is None else int(row.cursor)


def _beat_status() -> str | None:
    """The newest heartbeat's status, as the monitor shows it."""
    with session_scope(get_engine()) as s:
        beat = HeartbeatRepository(s).latest()
        return None if beat is None else str(beat.status)


def _drift_is_shown(at: AppTest) -> None:
    """The drift panel names the rule's threshold; the worst feature the rule reads is
    first and past it; the alert is listed."""
    at.run()
    assert not at.exception, at.exception
    assert "drifted past the threshold 0.25 (rule drift-major)" in _markdown(at)
    (drift,) = [d for d in at.dataframe if "psi" in d.value.columns]
    table = drift.value  # the rows the rule reads (own reference) first, worst first
    own = table[table["reference"] == "own"]
    assert list(own.index) == list(range(len(own)))
    assert own["psi"].iloc[0] == own["psi"].max() >= 0.25 and own["drifted"].iloc[0]
    (shown_alerts,) = [d for d in at.dataframe if "message" in d.value.columns]
    assert (shown_alerts.value["kind"] == "drift").any()
    assert (shown_alerts.value["status"] != "suppressed").all()  # cooldown repeats counted
    assert any("drift-major (drift): feature drift: PSI" in w.value for w in at.warning)


def test_a_model_session_shows_its_probabilities_health_and_shadow_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.operations.registry import PromoteRequest, RegisterRequest
    from app.operations.training import TrainRequest
    from app.services import registry
    from app.services.training import train
    from core.store.monitoring import MonitoringRepository

    def register(features: list[str]) -> int:
        outcome = train(TrainRequest(kind="logistic", features=features, symbol="AAPL"))
        assert outcome.run_id is not None
        return registry.register(RegisterRequest(run_id=outcome.run_id, name="alpha")).id

    champion = register(["ret_1", "ret_5", "rsi_14", "vol_21"])
    register(["ret_1", "zscore_20", "macd_hist", "atr_14", "sma_dist_50"])
    registry.promote(PromoteRequest(version_id=champion, reason="first champion"))
    monkeypatch.setattr(control, "start_detached", lambda cmd, **_: 4243)
    fake = FakeTime()
    at = open_app("paper")
    at.session_state["paper.clock"] = fake.clock
    at.toggle(key="paper.live").set_value(False).run()
    at.text_input(key="paper.session").set_value("modelled")
    at.radio(key="paper.feed").set_value("simulated")
    at.multiselect(key="paper.symbols").set_value(["AAPL", "MSFT"])
    at.number_input(key="paper.speed").set_value(SPEED)
    at.number_input(key="paper.train").set_value(300)
    at.text_input(key="paper.model").set_value("alpha@champion")
    at.text_input(key="paper.challenger").set_value("alpha:2")
    at.radio(key="paper.promotion").set_value("auto")
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    assert any("Worker started (pid 4243)" in s.value for s in at.success), at.error
    config = paper.stored_settings("modelled")
    assert config is not None
    assert (config["model"], config["challenger"], config["promotion"]) == (
        "alpha@champion",
        "alpha:2",
        "auto",
    )
    paper.run_worker(
        "modelled", steps=120, speed=SPEED, sleep=fake.sleep, clock=fake.clock, lease_ttl_s=LEASE
    )
    at.run()
    assert not at.exception, at.exception
    with session_scope(get_engine()) as s:
        (point,) = MonitoringRepository(s).points("modelled", kind="model", limit=1)
        predicted, bar = dict(point.values["predictions"]), point.bar
    book = _shown_book(at)
    assert set(predicted) == {"AAPL", "MSFT"} and all(0 < p < 1 for p in predicted.values())
    for sym, p in predicted.items():  # the probability the model gave at the last bar
        assert book.loc[sym, "probability"] == pytest.approx(p, rel=1e-12)
    assert any(f"decided at bar {bar}" in c.value for c in at.caption)
    shown = _markdown(at)
    assert "**Model alpha@champion**: live metrics at bar" in shown
    (health,) = [d for d in at.dataframe if "at registration" in d.value.columns]
    metrics_shown = health.value.set_index("metric")
    assert {"auc", "brier", "hit_rate"} <= set(metrics_shown.index)
    assert metrics_shown["live"].between(0, 1).all()
    assert "vs shadow alpha:2" in shown and "log LR" in shown
    assert any("Models page" in link.proto.label for link in at.get("page_link"))


def test_an_alpaca_session_is_badged_live_and_says_when_the_market_reopens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With keys the feed can be alpaca; a session of it sleeping over a weekend shows
    LIVE and when the NYSE next opens (the offline XNYS calendar)."""
    from app.operations.paper import PaperRequest
    from app.services import paper_monitor
    from core.broker import alpaca
    from core.paper import session

    assert (paper_monitor.KEY_NAMES, paper_monitor.SECRET_NAMES) == (
        alpaca.KEY_NAMES,
        alpaca.SECRET_NAMES,
    )
    monkeypatch.setenv("ALPACA_API_KEY", "key-id")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "secret")
    saturday = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    config = PaperRequest(session="alp", feed="alpaca", timeframe="1Min", symbols=["AAPL"])
    with session_scope(get_engine()) as s:
        session.open_session(s, config.model_dump(mode="json"))
        HeartbeatRepository(s).beat(cycle=0, status="market_closed", ts=saturday)
    at = open_app("paper")
    at.session_state["paper.clock"] = lambda: saturday + timedelta(seconds=42)
    at.toggle(key="paper.live").set_value(False).run()
    assert not at.exception, at.exception
    assert at.radio(key="paper.feed").options[-1] == FEED_TEXT["alpaca"]
    assert not any("Alpaca (live bars) is not offered" in c.value for c in at.caption)
    # SIP data applies to the alpaca feed only: refused beside the data-feed choice
    at.radio(key="paper.data_feed").set_value("sip")
    at.checkbox(key="paper.confirm_start").check()
    at.button(key=START).click().run()
    beside = [c for c in at.columns if len(c.error)]
    assert [r.label for r in beside[0].radio] == ["Alpaca data feed"], [e.value for e in at.error]
    assert "applies to the alpaca feed only" in beside[0].error[0].value
    shown = _markdown(at)
    assert "LIVE" in shown and "SIMULATED" not in shown and "Alpaca stream" in shown
    assert "market closed until Mon 7 Dec 14:30 UTC" in shown, shown
    assert any("The worker sleeps: market closed until Mon 7 Dec" in i.value for i in at.info)
    assert metrics(at)["Heartbeat"] == "42 s ago"
