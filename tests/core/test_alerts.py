"""core.alerts: every rule kind, thresholds in their unit, the stored specs (sealed channel
URLs) and the dispatcher's cooldown and history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from core.alerts import AlertDispatcher, AlertRuleSpec, ChannelSpec, Snapshot, evaluate_rules
from core.alerts.stored import StoredAlerts
from core.store.db import make_engine, session_scope, upgrade
from core.store.models import AlertChannel, AlertRule

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def test_each_rule_kind_fires_on_its_condition_only() -> None:
    rules = [
        AlertRuleSpec(name="dd", kind="drawdown", threshold=0.1),
        AlertRuleSpec(name="loss", kind="daily_loss", threshold=0.02),
        AlertRuleSpec(name="breach", kind="limit_breach"),
        AlertRuleSpec(name="near", kind="near_breach", threshold=0.8),
        AlertRuleSpec(name="rej", kind="rejected_orders", threshold=1),
        AlertRuleSpec(name="disc", kind="broker_disconnect"),
        AlertRuleSpec(name="recon", kind="reconciliation_mismatch"),
        AlertRuleSpec(name="auc", kind="model_metric", threshold=0.52, metric="roc_auc"),
        AlertRuleSpec(name="regime", kind="regime_change"),
        AlertRuleSpec(name="stale", kind="stale_data", threshold=3),
        AlertRuleSpec(name="hb", kind="heartbeat", threshold=60),
        AlertRuleSpec(name="lat", kind="latency", threshold=500),
        AlertRuleSpec(name="drift", kind="drift", threshold=0.25),
        AlertRuleSpec(name="gap", kind="data_gap", threshold=1),
        AlertRuleSpec(name="outlier", kind="outlier_return", threshold=6),
        AlertRuleSpec(name="tick", kind="bad_tick"),
    ]
    calm = Snapshot(
        ts=T0,
        drawdown=0.05,
        daily_loss=0.01,
        utilization={"gross": 0.5},
        model_metrics={"roc_auc": 0.6},
        regime="bull",
        previous_regime="bull",
        last_bar_ts=T0 - timedelta(minutes=5),
        bar_interval_s=3600,
        heartbeat_ts=T0 - timedelta(seconds=5),
        latency_ms=20,
        drift={"psi:ret_1": 0.05, "ks:ret_1": 0.04},
        quality={"AAPL": {"gap_bars": 0, "outlier_sigma": 2.0, "bad_tick": 0}},
    )
    assert evaluate_rules(rules, calm) == []
    stormy = Snapshot(
        ts=T0,
        drawdown=0.12,
        daily_loss=0.03,
        utilization={"gross": 1.2, "var": 0.9},
        rejected_orders=2,
        broker_connected=False,
        reconciliation_differences=1,
        model_metrics={"roc_auc": 0.5},
        regime="bear",
        previous_regime="bull",
        last_bar_ts=T0 - timedelta(hours=4),
        bar_interval_s=3600,
        heartbeat_ts=T0 - timedelta(minutes=5),
        latency_ms=900,
        drift={"psi:ret_1": 0.05, "psi:rsi_14@bear": 0.4, "ks:rsi_14@bear": 0.3},
        quality={
            "AAPL": {"gap_bars": 0, "outlier_sigma": 2.0, "bad_tick": 0},
            "MSFT": {"gap_bars": 2, "outlier_sigma": 7.5, "bad_tick": 1},
        },
    )
    fired = {f.rule.name: f for f in evaluate_rules(rules, stormy)}
    assert set(fired) == {r.name for r in rules}
    assert "drawdown 12.0% >= 10.0%" in fired["dd"].message
    assert "gross 120%" in fired["breach"].message and "var 90%" in fired["near"].message
    assert "bull -> bear" in fired["regime"].message
    assert (
        "(drift): feature drift: PSI 0.40 >= 0.25 on rsi_14 in regime bear"
        in fired["drift"].message
    )
    assert "MSFT 2 missing bar(s)" in fired["gap"].message and "AAPL" not in fired["gap"].message
    assert "MSFT 7.5 sigma" in fired["outlier"].message
    assert "4.0 bar interval(s)" in fired["stale"].message


def test_old_kind_names_are_accepted_and_renamed() -> None:
    old = AlertRuleSpec.model_validate(
        {"name": "a", "kind": "model_metric_below", "threshold": 0.5, "metric": "auc"}
    )
    assert old.kind == "model_metric"
    assert AlertRuleSpec(name="h", kind="heartbeat_lost", threshold=60).kind == "heartbeat"  # type: ignore[arg-type]


def test_old_stale_seconds_are_refused_with_the_new_unit() -> None:
    with pytest.raises(ValidationError, match="count bars now, not seconds"):
        AlertRuleSpec(name="s", kind="stale_data", threshold=86_400)


def test_heartbeat_and_stale_data_need_stored_facts() -> None:
    hb = AlertRuleSpec(name="hb", kind="heartbeat", threshold=60)
    stale = AlertRuleSpec(name="st", kind="stale_data", threshold=3)
    # No heartbeat known (a worker's own snapshot): silent, never a fake "now".
    assert evaluate_rules([hb], Snapshot(ts=T0)) == []
    # Market closed: three bar intervals without a bar is not stale.
    shut = Snapshot(ts=T0, last_bar_ts=T0 - timedelta(hours=5), bar_interval_s=3600)
    assert evaluate_rules([stale], shut.model_copy(update={"market_open": False})) == []
    assert len(evaluate_rules([stale], shut.model_copy(update={"market_open": True}))) == 1
    # missed_bars (counted on the market calendar) wins over the wall-clock age.
    assert evaluate_rules([stale], shut.model_copy(update={"missed_bars": 2.0})) == []


def test_model_metric_direction_and_decay() -> None:
    brier = AlertRuleSpec(name="b", kind="model_metric", threshold=0.27, metric="brier")
    drop = AlertRuleSpec(name="d", kind="model_metric", threshold=0.05, metric="auc_drop")
    snap = Snapshot(
        ts=T0,
        model_metrics={"brier": 0.26, "auc_drop": 0.08},
        model_reference={"auc": 0.61},
    )
    fired = evaluate_rules([brier, drop], snap)
    assert [f.rule.name for f in fired] == ["d"]
    assert "auc_drop 0.080 >= 0.050 (registration auc 0.610)" in fired[0].message


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="threshold: a drawdown rule needs a threshold"):
        AlertRuleSpec(name="dd", kind="drawdown")
    with pytest.raises(ValidationError, match="metric: name the model metric"):
        AlertRuleSpec(name="m", kind="model_metric", threshold=0.5)
    with pytest.raises(ValidationError, match="not a notification URL"):
        ChannelSpec(name="bad", url="nonsense://x")


@pytest.mark.parametrize(
    ("kind", "bad", "good", "expected"),
    [
        ("drawdown", 50, 0.5, "fraction of peak equity in (0, 1]"),
        ("drawdown", 0, 0.01, "fraction of peak equity in (0, 1]"),
        ("daily_loss", 2, 0.02, "fraction of start-of-day equity"),
        ("near_breach", 80, 0.8, "fraction of a limit in use"),
        ("rejected_orders", 0, 1, "count of orders"),
        ("rejected_orders", 1.5, 2, "whole number"),
        ("stale_data", 0, 3, "bar intervals without a new bar"),
        ("heartbeat", 86_401, 60, "1 to 86,400"),
        ("drift", 0, 0.25, "population stability index"),
        ("data_gap", 1.5, 2, "whole number"),
        ("outlier_return", 0.5, 6, "standard deviations"),
        ("latency", float("nan"), 500, "milliseconds"),
        ("latency", float("inf"), 500, "milliseconds"),
    ],
)
def test_thresholds_are_checked_in_their_unit(
    kind: str, bad: float, good: float, expected: str
) -> None:
    with pytest.raises(ValidationError) as info:
        AlertRuleSpec(name="r", kind=kind, threshold=bad)
    assert expected in str(info.value) and "threshold:" in str(info.value)
    assert AlertRuleSpec(name="r", kind=kind, threshold=good).threshold == good


def test_threshold_unit_edges_and_kinds_without_threshold() -> None:
    assert AlertRuleSpec(name="r", kind="drawdown", threshold=1.0).threshold == 1.0
    with pytest.raises(ValidationError, match=r"for 50% enter 0\.5"):
        AlertRuleSpec(name="r", kind="drawdown", threshold=50)
    with pytest.raises(ValidationError, match="takes no threshold"):
        AlertRuleSpec(name="r", kind="regime_change", threshold=0.5)
    with pytest.raises(ValidationError, match=r"roc_auc lies in \[0, 1\]"):
        AlertRuleSpec(name="r", kind="model_metric", threshold=52, metric="roc_auc")
    # An unbounded metric may be negative (a Sharpe ratio).
    sharpe = AlertRuleSpec(name="r", kind="model_metric", threshold=-0.5, metric="sharpe")
    assert sharpe.threshold == -0.5
    with pytest.raises(ValidationError, match="only model_metric rules"):
        AlertRuleSpec(name="r", kind="drawdown", threshold=0.1, metric="roc_auc")


# --- stored specs and the dispatcher (core.alerts.stored, core.alerts.engine) ---------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def test_stored_channels_are_sealed_and_rules_come_back_as_specs(engine: Engine) -> None:
    url = "json://alice:s3cret-token@127.0.0.1:9/hook"
    with session_scope(engine) as s:
        stored = StoredAlerts(s)
        stored.save_channel(ChannelSpec(name="hook", url=url))  # type: ignore[arg-type]
        stored.save_channel(ChannelSpec(name="inbox", url="in-app", enabled=False))  # type: ignore[arg-type]
        rule = AlertRuleSpec(name="dd", kind="drawdown", threshold=0.1, channels=["hook"])
        stored.save_rule(rule)
        s.add(AlertRule(name="old", kind="drawdown", params={"threshold": 50}, channels=[]))
    with session_scope(engine) as s:
        row = s.scalar(select(AlertChannel).where(AlertChannel.name == "hook"))
        assert row is not None and row.url_ciphertext is not None
        assert "s3cret-token" not in row.url + row.url_ciphertext
        stored = StoredAlerts(s)
        assert stored.repo.channel_list() == [
            {"name": "hook", "url": row.url, "enabled": True},
            {"name": "inbox", "url": "in-app", "enabled": False},
        ]
        hook = stored.channel("hook")
        assert hook is not None and hook.url.get_secret_value() == url
        inbox = stored.channel("inbox")
        assert inbox is not None and inbox.url.get_secret_value() == "in-app"
        assert stored.repo.channel_row("inbox").url_ciphertext is None  # type: ignore[union-attr]
        assert stored.channel("nope") is None
        dd, old = stored.rules()
        assert dd == rule
        assert (old.name, old.enabled) == ("old", False) and "for 50% enter 0.5" in old.problem


def test_dispatcher_cools_down_a_repeated_alert_and_records_every_firing(engine: Engine) -> None:
    url = "json://127.0.0.1:9/hook"
    sent: list[tuple[str, str, str, str]] = []

    def sender(spec: ChannelSpec, *, title: str, body: str, severity: str) -> None:
        sent.append((spec.name, spec.url.get_secret_value(), title, severity))

    rule = AlertRuleSpec(
        name="dd", kind="drawdown", threshold=0.1, channels=["hook"], cooldown_s=600
    )
    with session_scope(engine) as s:
        StoredAlerts(s).save_channel(ChannelSpec(name="hook", url=url))  # type: ignore[arg-type]
    dispatcher = AlertDispatcher(lambda: session_scope(engine), sender=sender)
    statuses = []
    for minutes in (0, 5, 11):
        now = T0 + timedelta(minutes=minutes)
        firings = evaluate_rules([rule], Snapshot(ts=now, drawdown=0.2))
        statuses += [r["status"] for r in dispatcher.dispatch(firings, now=now)]
    assert statuses == ["sent", "suppressed", "sent"]
    assert sent == [("hook", url, "Workbench alert: dd", rule.severity)] * 2
    with session_scope(engine) as s:
        StoredAlerts(s).repo.set_channel_enabled("hook", False)
    later = T0 + timedelta(minutes=30)
    (failed,) = dispatcher.dispatch(
        evaluate_rules([rule], Snapshot(ts=later, drawdown=0.2)), now=later
    )
    assert (failed["status"], failed["errors"]) == ("failed", ["channel hook is disabled"])
    with session_scope(engine) as s:
        history = [(e.status, e.channels) for e in StoredAlerts(s).repo.history()]
    assert history == [("failed", []), ("sent", ["hook"]), ("suppressed", []), ("sent", ["hook"])]
