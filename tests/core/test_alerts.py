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
        AlertRuleSpec(name="auc", kind="model_metric_below", threshold=0.52, metric="roc_auc"),
        AlertRuleSpec(name="regime", kind="regime_change"),
        AlertRuleSpec(name="stale", kind="stale_data", threshold=3600),
        AlertRuleSpec(name="hb", kind="heartbeat_lost", threshold=60),
        AlertRuleSpec(name="lat", kind="latency", threshold=500),
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
        heartbeat_ts=T0 - timedelta(seconds=5),
        latency_ms=20,
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
        last_bar_ts=T0 - timedelta(hours=2),
        heartbeat_ts=T0 - timedelta(minutes=5),
        latency_ms=900,
    )
    fired = {f.rule.name: f for f in evaluate_rules(rules, stormy)}
    assert set(fired) == {r.name for r in rules}
    assert "drawdown 12.0% >= 10.0%" in fired["dd"].message
    assert "gross 120%" in fired["breach"].message and "var 90%" in fired["near"].message
    assert "bull -> bear" in fired["regime"].message


def test_rule_validation_names_the_field() -> None:
    with pytest.raises(ValidationError, match="threshold: a drawdown rule needs a threshold"):
        AlertRuleSpec(name="dd", kind="drawdown")
    with pytest.raises(ValidationError, match="metric: name the model metric"):
        AlertRuleSpec(name="m", kind="model_metric_below", threshold=0.5)
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
        ("stale_data", 0, 3600, "seconds since the last bar"),
        ("heartbeat_lost", 86_401, 60, "1 to 86,400"),
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
        AlertRuleSpec(name="r", kind="model_metric_below", threshold=52, metric="roc_auc")
    # An unbounded metric may be negative (a Sharpe ratio).
    sharpe = AlertRuleSpec(name="r", kind="model_metric_below", threshold=-0.5, metric="sharpe")
    assert sharpe.threshold == -0.5
    with pytest.raises(ValidationError, match="only model_metric_below"):
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
