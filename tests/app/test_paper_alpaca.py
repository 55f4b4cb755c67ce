"""The paper trader with ``broker="alpaca"``: the real alpaca-py client against the fake
Alpaca server on 127.0.0.1, run in-process through ``app.services.paper.run_worker``.

Fills happen at the fake's price (not the replayed bar's), so the tests compare counts,
client order ids and reconciliation, never equity with the simulator.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import core.broker
from app.operations.paper import PaperRequest, StatusRequest
from app.operations.risk import LimitsChangeRequest
from app.services import paper, risk
from app.services.db import get_engine
from core.broker import AlpacaBroker, CircuitBreaker, ReconciliationReport, RetryPolicy, reconcile
from core.config import get_settings
from core.store.db import session_scope
from core.store.paper import PaperSessionRepository
from tests.fakes.alpaca_server import FakeAlpaca

PRICE = 900.0  # the fake's SP500 price, near the replayed 2003 closes
KEY, SECRET = "PKWBTESTKEY5R8T1Z3", "wbSeCrEt/q7w6e5r4t3y2u1i0"


# ---------------------------------------------------------------------- fixtures
@pytest.fixture
def var(isolated_workbench: Path) -> Path:
    return isolated_workbench


def _point_at(fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_ALPACA_TRADING_URL", fake.url)
    monkeypatch.setenv("WORKBENCH_ALPACA_DATA_URL", fake.url)
    monkeypatch.setenv("ALPACA_API_KEY", fake.key)
    monkeypatch.setenv("ALPACA_SECRET_KEY", fake.secret)
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    get_settings.cache_clear()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, var: Path) -> Iterator[FakeAlpaca]:
    """A fake Alpaca in fill mode that the workbench's settings point at; busy limits."""
    server = FakeAlpaca(key=KEY, secret=SECRET, fill_mode="fill").start()
    server.prices["SP500"] = PRICE
    _point_at(server, monkeypatch, tmp_path)
    loose = {
        "max_weight_per_asset": 1,
        "max_gross_exposure": 1,
        "var_limit_95": 1,
        "max_concentration": 1,
        "max_order_notional": 1_000_000,
    }
    risk.set_limits(LimitsChangeRequest(values=loose, reason="busy test book"))
    try:
        yield server
    finally:
        server.clear_faults()
        server.close()


class FakeTime:
    """Simulated seconds: advanced only by ``sleep`` (the worker's and the broker's), with
    actions scheduled at simulated times, so outages last a fixed number of retries
    whatever the machine's load."""

    def __init__(self) -> None:
        self.t = 0.0
        self._due: list[tuple[float, Callable[[], None]]] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        for item in [d for d in self._due if d[0] <= self.t]:
            self._due.remove(item)
            item[1]()

    def after(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``seconds`` of simulated time have passed."""
        self._due.append((self.t + seconds, action))


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch, clock: FakeTime) -> list[AlpacaBroker]:
    """Make the service build brokers with short timeouts, quick retries and a short
    cool-down (the defaults: 10 s timeout, 30 s cool-down) on the simulated clock; returns
    the brokers built. Pass ``sleep=clock.sleep`` to ``run_worker`` too."""
    built: list[AlpacaBroker] = []

    class FastAlpaca(AlpacaBroker):
        def __init__(self, **options: Any) -> None:
            options.setdefault("timeout_s", 1.5)
            options.setdefault(
                "retry", RetryPolicy(max_attempts=3, base_delay_s=0.01, jitter=False)
            )
            options.setdefault(
                "breaker",
                CircuitBreaker(failure_threshold=5, cooldown_s=0.3, clock=clock.monotonic),
            )
            options.setdefault("sleep", clock.sleep)
            super().__init__(**options)
            built.append(self)

    monkeypatch.setattr(core.broker, "AlpacaBroker", FastAlpaca)
    return built


def on_cycle(monkeypatch: pytest.MonkeyPatch, action: Callable[[int], None]) -> None:
    """Call ``action(n)`` after the worker's n-th completed cycle (1-based), after alerts."""
    original = paper._alert_hook
    done = [0]

    def factory(symbols: list[str]) -> Callable[[Any], None]:
        alerts = original(symbols)

        def hook(report: Any) -> None:
            alerts(report)
            done[0] += 1
            action(done[0])

        return hook

    monkeypatch.setattr(paper, "_alert_hook", factory)


# ---------------------------------------------------------------------- helpers
def request(session: str = "alp") -> PaperRequest:
    return PaperRequest(broker="alpaca", session=session, symbols=["SP500"], train_bars=1000)


def db(var: Path, sql: str, *args: Any) -> list[tuple]:
    con = sqlite3.connect(var / "workbench.db")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def local_orders(var: Path) -> list[dict[str, Any]]:
    cols = ["client_order_id", "side", "qty", "status", "filled_qty", "avg_fill_price", "reason"]
    rows = db(var, f"SELECT {', '.join(cols)} FROM orders ORDER BY id")
    return [dict(zip(cols, row, strict=True)) for row in rows]


def beats(var: Path) -> list[tuple[str, str | None]]:
    return db(var, "SELECT status, last_error FROM worker_heartbeat ORDER BY id")


def posted_ids(fake: FakeAlpaca) -> list[str]:
    """client_order_id of every order that reached the fake's book."""
    return [r.body["client_order_id"] for r in fake.posted_orders()]


def reconcile_now(session: str = "alp") -> ReconciliationReport:
    broker = AlpacaBroker(
        url_override=get_settings().alpaca_trading_url,
        retry=RetryPolicy(max_attempts=1),
    )
    with session_scope(get_engine()) as s:
        row = PaperSessionRepository(s).get(session)
        assert row is not None
        return reconcile(s, broker, account_id=row.account_id, record=False)


def fake_positions(fake: FakeAlpaca) -> dict[str, float]:
    return {s: p.qty for s, p in fake.positions.items() if p.qty}


def local_positions(var: Path) -> dict[str, float]:
    return {s: q for s, q in db(var, "SELECT symbol, qty FROM positions") if q}


def assert_one_broker_order_per_local_order(var: Path, fake: FakeAlpaca) -> list[dict]:
    orders = local_orders(var)
    ids = [o["client_order_id"] for o in orders]
    sent = [o for o in orders if o["status"] != "rejected"]
    assert len(ids) == len(set(ids))
    assert Counter(posted_ids(fake)) == Counter(o["client_order_id"] for o in sent)
    assert sorted(o["client_order_id"] for o in fake.orders.values()) == sorted(
        o["client_order_id"] for o in sent
    )
    return orders


# ---------------------------------------------------------------------- 1. replay
def test_replay_in_fill_mode_sends_each_order_once_and_reconciles(
    fake: FakeAlpaca, var: Path
) -> None:
    # production broker settings (no `fast` fixture): default retries, timeout, breaker
    summary = paper.run_worker(request(), steps=60)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 60)
    assert summary["last_bar"] == "2003-03-24"
    assert summary["reconciliation_differences"] == 0 and summary["resubmitted"] == 0
    orders = assert_one_broker_order_per_local_order(var, fake)
    assert len(orders) >= 20, "the busy book should trade on most bars"
    assert summary["orders"] == len(orders)
    assert fake.count("POST", "/v2/orders") == len(orders)  # no retries, no duplicates
    for o in orders:
        assert (o["status"], o["filled_qty"], o["avg_fill_price"]) == ("filled", o["qty"], PRICE)
        assert o["client_order_id"].startswith("wb-alp-SP500-")
    fills = db(
        var,
        "SELECT o.client_order_id, f.qty, f.price FROM fills f JOIN orders o ON o.id = f.order_id",
    )
    assert sorted(fills) == sorted((o["client_order_id"], o["qty"], PRICE) for o in orders)

    # each fill moved the local position exactly as the fake's
    signed = sum(o["qty"] if o["side"] == "buy" else -o["qty"] for o in orders)
    assert local_positions(var) == fake_positions(fake) == ({"SP500": signed} if signed else {})
    report = reconcile_now()
    assert report.ok, report.summary()

    # decisions, snapshots and heartbeats: one per bar
    assert db(var, "SELECT count(*) FROM decisions") == [(60,)]
    assert db(var, "SELECT count(*), min(bar), max(bar) FROM equity_snapshots") == [
        (60, 1000, 1059)
    ]
    assert [status for status, _ in beats(var)] == ["running"] * 60 + ["done-steps"]
    assert summary["final_equity"] == pytest.approx(fake._equity())
    view = paper.monitor(StatusRequest(session="alp"))
    assert view.session is not None and view.session["cursor"] == 1059
    assert len(view.orders) == len(orders) and view.open_orders.empty


def test_summary_counts_the_fills_of_an_alpaca_run(fake: FakeAlpaca, var: Path) -> None:
    summary = paper.run_worker(request(), steps=8)
    n_fills = db(var, "SELECT count(*) FROM fills")[0][0]
    assert n_fills > 0
    assert summary["fills"] == n_fills


# ---------------------------------------------------------------------- 2. faults
def test_5xx_on_submits_is_retried_and_makes_one_order_each(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    def arm(cycle: int) -> None:
        if cycle in (5, 12):
            fake.fail_next(2, status=503, method="POST", path="/v2/orders")

    fake.fail_next(1, status=502, method="POST", path="/v2/orders")
    on_cycle(monkeypatch, arm)
    summary = paper.run_worker(request(), steps=20)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 20)
    failed = [r for r in fake.requests if r.path == "/v2/orders" and r.status >= 500]
    assert len(failed) == 5  # every injected failure was hit, then the retry succeeded
    orders = assert_one_broker_order_per_local_order(var, fake)
    assert summary["orders"] == len(orders)
    assert all(o["status"] == "filled" and o["reason"] is None for o in orders)
    # before each retry the order was looked up by its key (and not found)
    assert fake.count("GET", "/v2/orders:by_client_order_id") == 5
    assert {status for status, _ in beats(var)} == {"running", "done-steps"}
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


def test_timeout_on_submit_finds_the_order_by_client_order_id(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fake books the order, then answers after the client's 1.5 s timeout
    def arm(cycle: int) -> None:
        if cycle == 6:
            fake.delay_next(3.0)

    fake.delay_next(3.0)
    on_cycle(monkeypatch, arm)
    summary = paper.run_worker(request(), steps=14)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 14)
    orders = assert_one_broker_order_per_local_order(var, fake)
    assert fake.count("POST", "/v2/orders") == len(orders)  # never re-sent
    assert fake.count("GET", "/v2/orders:by_client_order_id") == 2
    looked_up = {r.query["client_order_id"] for r in fake.requests if "by_client" in r.path}
    assert len(looked_up) == 2 and looked_up <= {o["client_order_id"] for o in orders}
    assert all(o["status"] == "filled" for o in orders)
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


def test_rejected_order_is_recorded_with_the_brokers_message_and_the_worker_continues(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker], monkeypatch: pytest.MonkeyPatch
) -> None:
    def arm(cycle: int) -> None:
        if cycle == 6:
            fake.reject_next_order(422, "qty must be a whole number for this asset")

    fake.reject_next_order(403, "insufficient buying power")
    on_cycle(monkeypatch, arm)
    summary = paper.run_worker(request(), steps=15)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 15)
    orders = assert_one_broker_order_per_local_order(var, fake)
    rejected = [o for o in orders if o["status"] == "rejected"]
    assert [o["reason"] for o in rejected] == [
        "alpaca rejected order (HTTP 403): insufficient buying power",
        "alpaca rejected order (HTTP 422): qty must be a whole number for this asset",
    ]
    assert rejected[0] is orders[0]  # the first order of the run
    assert all(o["filled_qty"] == 0 for o in rejected)
    later = orders[orders.index(rejected[-1]) + 1 :]
    assert later and all(o["status"] == "filled" for o in later)  # it kept trading
    assert summary["rejected"] >= 2 and summary["orders"] == len(orders)
    assert fake.count("POST", "/v2/orders") == len(orders)  # rejections are not retried
    assert {status for status, _ in beats(var)} == {"running", "done-steps"}
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


def test_partial_fills_are_mirrored_then_reported_and_synced(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker]
) -> None:
    fake.fill_mode = "partial"  # half of each order (rounded down) fills at once
    first = paper.run_worker(request(), steps=12)
    assert first["cycles"] == 12
    orders = assert_one_broker_order_per_local_order(var, fake)
    by_cid = {o["client_order_id"]: o for o in fake.orders.values()}
    for o in orders:  # the ledger mirrors the broker's partial state
        seen = by_cid[o["client_order_id"]]
        assert (o["status"], o["filled_qty"]) == (seen["status"], seen["filled_qty"])
    assert any(o["status"] == "partially_filled" for o in orders)
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok

    # the rest fills later at the broker: reconciliation reports it ...
    still_open = [o for o in fake.orders.values() if o["status"] in ("new", "partially_filled")]
    assert still_open
    for o in still_open:
        fake.fill(o["id"])
    report = reconcile_now()
    kinds = Counter(d.kind for d in report.differences)
    assert kinds["order"] == len(still_open)
    assert kinds["position"] == (1 if fake_positions(fake) != local_positions(var) else 0)

    # ... and the next run reports it at start-up, then syncs the fills on its first bar
    fake.fill_mode = "fill"
    second = paper.run_worker(request(), steps=3)
    assert second["reconciliation_differences"] == len(report.differences)
    assert second["cycles"] == 3
    assert db(var, "SELECT max(bar) FROM equity_snapshots") == [(1014,)]
    orders = assert_one_broker_order_per_local_order(var, fake)
    assert all(o["status"] == "filled" and o["filled_qty"] == o["qty"] for o in orders)
    fills = db(var, "SELECT count(*), sum(qty) FROM fills")[0]
    assert fills[1] == sum(o["qty"] for o in orders) and fills[0] > len(orders)
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


def test_circuit_breaker_opens_while_the_broker_is_down_and_the_worker_resumes(
    fake: FakeAlpaca,
    var: Path,
    fast: list[AlpacaBroker],
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeTime,
) -> None:
    # Simulated time: every request fails for 3 s of the worker's and broker's sleeps
    # (not of the wall clock, which a loaded machine stretches).
    def outage(cycle: int) -> None:
        if cycle == 5:
            fake.fail_next(100_000, status=503)
            clock.after(3.0, fake.clear_faults)

    on_cycle(monkeypatch, outage)
    summary = paper.run_worker(request(), steps=12, sleep=clock.sleep)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 12)
    statuses = [status for status, _ in beats(var)]
    down = [error for status, error in beats(var) if status == "broker_down"]
    assert statuses[:5] == ["running"] * 5 and statuses[-1] == "done-steps"
    assert len(down) >= 3, statuses  # the worker kept beating while the broker was down
    assert statuses[5 : 5 + len(down)] == ["broker_down"] * len(down)
    assert statuses[5 + len(down) : -1] == ["running"] * 7  # and resumed afterwards
    assert any("HTTP 503" in e for e in down)
    assert any("circuit open" in e for e in down)  # calls failed fast while open
    worker_broker = fast[-1]
    assert worker_broker.breaker.state == "closed"
    # the breaker kept load off the broker: far fewer failed calls than worker retries
    # x attempts would make without it
    n_failed = sum(1 for r in fake.requests if r.status == 503)
    assert n_failed < 3 * len(down)
    assert db(var, "SELECT count(*), max(bar) FROM equity_snapshots") == [(12, 1011)]
    assert db(var, "SELECT count(*) FROM decisions") == [(12,)]
    assert_one_broker_order_per_local_order(var, fake)
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


# ---------------------------------------------------------------------- 3. keys
def test_keys_never_reach_the_database_or_the_logs(
    fake: FakeAlpaca,
    var: Path,
    fast: list[AlpacaBroker],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)

    def faults(cycle: int) -> None:
        if cycle == 2:
            fake.fail_next(1, status=500, method="POST", path="/v2/orders")
        if cycle == 4:
            fake.delay_next(3.0)
        if cycle == 6:
            fake.reject_next_order(403, "insufficient buying power")

    on_cycle(monkeypatch, faults)
    summary = paper.run_worker(request(), steps=10)
    assert summary["cycles"] == 10
    assert reconcile_now().ok
    paper.monitor(StatusRequest(session="alp"))
    get_engine().dispose()

    assert "attempt 1/3 failed" in caplog.text  # warnings were captured
    assert "alpaca rejected order" in caplog.text
    assert "/v2/orders" in caplog.text  # urllib3's DEBUG request lines too
    stored = b"".join(p.read_bytes() for p in sorted(var.rglob("*")) if p.is_file())
    assert b"wb-alp-SP500-" in stored  # the files hold the ledger
    for secret in (KEY, SECRET):
        assert secret not in caplog.text
        assert secret.encode() not in stored
        assert secret.encode("utf-16-le") not in stored
        assert all(secret not in repr(b) for b in fast)


# ---------------------------------------------------------------------- found bugs
DECIDED = ("bar", "regime", "signal", "target_position", "weights", "approved_qty")


def decisions(var: Path, session: str) -> list[dict[str, Any]]:
    rows = db(var, "SELECT payload FROM decisions ORDER BY id")
    payloads = [json.loads(p) for (p,) in rows]
    return [{k: p[k] for k in DECIDED} for p in payloads if p["session"] == session]


def test_an_outage_during_submit_does_not_change_later_decisions(
    fake: FakeAlpaca,
    var: Path,
    fast: list[AlpacaBroker],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: FakeTime,
) -> None:
    calm = paper.run_worker(request("calm"), steps=16)
    assert calm["cycles"] == 16

    storm_fake = FakeAlpaca(key=KEY, secret=SECRET, fill_mode="fill").start()
    storm_fake.prices["SP500"] = PRICE
    _point_at(storm_fake, monkeypatch, tmp_path)

    def outage(cycle: int) -> None:
        if cycle == 6:  # the next order's submit fails until the broker is back
            storm_fake.fail_next(100_000, status=503, method="POST", path="/v2/orders")
            clock.after(1.0, storm_fake.clear_faults)

    on_cycle(monkeypatch, outage)
    try:
        storm = paper.run_worker(request("storm"), steps=16, sleep=clock.sleep)
    finally:
        storm_fake.close()
    assert storm["cycles"] == 16
    assert "broker_down" in {status for status, _ in beats(var)}
    assert decisions(var, "storm") == decisions(var, "calm")


def test_monitor_shows_the_brokers_balances(fake: FakeAlpaca, var: Path) -> None:
    summary = paper.run_worker(request(), steps=8)
    view = paper.monitor(StatusRequest(session="alp"))
    assert view.account is not None
    assert summary["final_equity"] == pytest.approx(fake._equity())
    assert view.account["equity"] == pytest.approx(fake._equity())
    assert view.account["cash"] == pytest.approx(fake.cash)


def test_lost_answer_and_failed_lookups_still_make_one_order(
    fake: FakeAlpaca,
    var: Path,
    fast: list[AlpacaBroker],
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeTime,
) -> None:
    # The first order is booked but its answer is lost and every lookup by client_order_id
    # fails for a while: the worker retries the bar, the resubmission meets Alpaca's 422
    # "client_order_id must be unique", and the existing order is adopted once lookups work.
    def trouble(cycle: int) -> None:
        if cycle == 1:
            fake.delay_next(3.0)  # wall time: longer than the client's 1.5 s timeout
            fake.fail_next(100_000, status=503, path="/v2/orders:by_client_order_id")
            clock.after(3.5, fake.clear_faults)  # simulated time of the retries

    on_cycle(monkeypatch, trouble)
    summary = paper.run_worker(request(), steps=8, sleep=clock.sleep)

    assert (summary["state"], summary["cycles"]) == ("done-steps", 8)
    assert "broker_down" in {status for status, _ in beats(var)}
    orders = local_orders(var)
    duplicates = [r for r in fake.requests if r.method == "POST" and r.status == 422]
    assert duplicates, "the resubmission should have met Alpaca's duplicate check"
    first = duplicates[0].body["client_order_id"]
    sent = [r for r in fake.requests if r.method == "POST" and r.body["client_order_id"] == first]
    assert [r.status for r in sent[:2]] == [200, 422]
    assert Counter(o["client_order_id"] for o in fake.orders.values())[first] == 1
    assert sorted(o["client_order_id"] for o in fake.orders.values()) == sorted(
        o["client_order_id"] for o in orders
    )
    assert all(o["status"] == "filled" for o in orders)
    assert local_positions(var) == fake_positions(fake)
    assert reconcile_now().ok


def test_worker_started_while_the_broker_is_down_waits_for_it(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker], clock: FakeTime
) -> None:
    fake.fail_next(100_000, status=503)
    clock.after(2.0, fake.clear_faults)
    summary = paper.run_worker(request(), steps=3, sleep=clock.sleep)
    assert summary["cycles"] == 3
    assert "broker_down" in {status for status, _ in beats(var)}


def test_broker_outage_fires_the_broker_disconnect_alert(
    fake: FakeAlpaca,
    var: Path,
    fast: list[AlpacaBroker],
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeTime,
) -> None:
    from app.services import alerts
    from core.alerts import AlertRuleSpec

    alerts.save_rule(AlertRuleSpec(name="disconnect", kind="broker_disconnect"))

    def outage(cycle: int) -> None:
        if cycle == 2:
            fake.fail_next(100_000, status=503)
            clock.after(1.5, fake.clear_faults)

    on_cycle(monkeypatch, outage)
    summary = paper.run_worker(request(), steps=4, sleep=clock.sleep)
    assert summary["cycles"] == 4
    assert "broker_down" in {status for status, _ in beats(var)}
    events = alerts.history()
    assert {e["kind"] for e in events} == {"broker_disconnect"}
    # Delivered once; further firings during the same outage are kept but suppressed.
    assert [e["status"] for e in events].count("sent") == 1
    assert all(e["status"] == "suppressed" for e in events[:-1])


def test_broker_rejections_count_for_the_rejected_orders_alert(
    fake: FakeAlpaca, var: Path, fast: list[AlpacaBroker], clock: FakeTime
) -> None:
    from app.services import alerts
    from core.alerts import AlertRuleSpec

    alerts.save_rule(
        AlertRuleSpec(name="rejections", kind="rejected_orders", threshold=1, cooldown_s=0)
    )
    fake.reject_next_order(403, "insufficient buying power")
    summary = paper.run_worker(request(), steps=6, sleep=clock.sleep)
    assert summary["broker_rejected"] == 1 and summary["risk_rejected"] == 0
    fired = [e for e in alerts.history() if e["kind"] == "rejected_orders"]
    assert len(fired) == 1  # the cycle of the 403 (risk rejections alone were 0)
    assert "1 order(s) rejected" in fired[0]["message"]


@pytest.mark.parametrize("status", [401, 403])
def test_a_wrong_secret_gives_a_clear_error_and_writes_nothing(
    fake: FakeAlpaca, var: Path, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    from tests.cli_helpers import run_cli

    fake.auth_failure_status = status
    monkeypatch.setenv("ALPACA_SECRET_KEY", "not-the-secret")
    out = run_cli(
        "paper",
        "run",
        "--broker",
        "alpaca",
        "--session",
        "alp",
        "--steps",
        "2",
        "--json",
        var=var,
        timeout=300,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    message = json.loads(out.stdout)["error"]
    assert f"HTTP {status}" in message and "ALPACA_SECRET_KEY" in message
    assert "not-the-secret" not in out.stdout + out.stderr
    assert db(var, "SELECT count(*) FROM paper_sessions") == [(0,)]
    assert db(var, "SELECT count(*) FROM orders") == [(0,)]
