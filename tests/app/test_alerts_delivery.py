"""Alert services end to end: apprise delivery to a real local webhook receiver, cooldown,
history, roles and audit (the rules themselves are tested in tests/core/test_alerts.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.operations.alerts import AlertNameRequest, AlertTestRequest
from app.services import alerts as alert_service
from app.services.auth import Actor, PermissionDenied
from core.alerts import AlertRuleSpec, ChannelSpec, Snapshot
from tests.fakes.webhook import Webhook, webhook_receiver

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with webhook_receiver() as hook:
        yield hook


def test_webhook_delivery_cooldown_and_history(webhook: Webhook) -> None:
    alert_service.save_channel(ChannelSpec(name="hook", url=webhook.url))
    alert_service.save_rule(
        AlertRuleSpec(
            name="dd", kind="drawdown", threshold=0.1, channels=["hook", "in-app"], cooldown_s=600
        )
    )
    snap = Snapshot(ts=T0, drawdown=0.15)
    first = alert_service.evaluate(snap)
    assert [r["status"] for r in first] == ["sent"]
    assert len(webhook.received) == 1
    assert "drawdown 15.0%" in webhook.received[0]["message"]
    # Same condition within the cooldown: recorded but not delivered.
    again = alert_service.evaluate(Snapshot(ts=T0 + timedelta(minutes=5), drawdown=0.16))
    assert [r["status"] for r in again] == ["suppressed"] and len(webhook.received) == 1
    later = alert_service.evaluate(Snapshot(ts=T0 + timedelta(minutes=11), drawdown=0.16))
    assert [r["status"] for r in later] == ["sent"] and len(webhook.received) == 2
    statuses = [h["status"] for h in alert_service.history()]
    assert statuses == ["sent", "suppressed", "sent"]
    # The channel list never shows the receiver's full URL.
    assert alert_service.list_channels()[0]["url"] == f"json://127.0.0.1:{webhook.port}/****"


def test_failed_delivery_is_recorded_as_failed(webhook: Webhook) -> None:
    webhook.status = 500
    alert_service.save_channel(ChannelSpec(name="hook", url=webhook.url))
    result = alert_service.send_test(AlertTestRequest(channel="hook"))
    assert result["status"] == "failed" and "delivery" in result["errors"][0]
    assert alert_service.history()[0]["status"] == "failed"


def test_send_test_to_in_app_and_role_checks() -> None:
    assert alert_service.send_test(AlertTestRequest(channel="in-app"))["status"] == "sent"
    analyst = Actor("ann", frozenset({"analyst"}))
    with pytest.raises(PermissionDenied, match="risk"):
        alert_service.save_rule(AlertRuleSpec(name="x", kind="broker_disconnect"), actor=analyst)
    with pytest.raises(ValueError, match="do not exist"):
        alert_service.save_rule(
            AlertRuleSpec(name="x", kind="broker_disconnect", channels=["nowhere"])
        )
    assert alert_service.list_rules() == []


def test_paper_worker_feeds_limit_utilization_to_the_alert_rules() -> None:
    from app.operations.risk import LimitsChangeRequest
    from app.services import paper
    from app.services import risk as risk_service

    # A tight weight cap the trader will run into, and a near-breach rule at 80%.
    risk_service.set_limits(
        LimitsChangeRequest(
            values={
                "max_weight_per_asset": 0.05,
                "max_order_notional": 1e6,
                "var_limit_95": 1.0,
                "max_concentration": 1.0,
            },
            reason="test",
        )
    )
    alert_service.save_rule(
        AlertRuleSpec(name="near", kind="near_breach", threshold=0.8, cooldown_s=0)
    )
    paper.run_worker(paper.PaperRequest(), steps=60)
    fired = [e for e in alert_service.history() if e["rule"] == "near"]
    assert fired and "max_weight_per_asset" in fired[0]["message"]


def test_test_alerts_are_recorded_as_kind_test() -> None:
    alert_service.send_test(AlertTestRequest(channel="in-app"))
    (event,) = alert_service.history()
    assert (event["kind"], event["rule"], event["status"]) == ("test", "test", "sent")


def test_a_stored_rule_outside_its_unit_is_listed_disabled_and_never_fires() -> None:
    from app.services.db import get_engine
    from core.store.db import session_scope
    from core.store.models import AlertRule

    with session_scope(get_engine()) as session:  # saved before thresholds had units
        session.add(
            AlertRule(name="old", kind="drawdown", params={"threshold": 50}, channels=["in-app"])
        )
    (rule,) = alert_service.list_rules()
    assert not rule.enabled and "for 50% enter 0.5" in (rule.problem or "")
    assert alert_service.evaluate(Snapshot(ts=T0, drawdown=60.0)) == []
    with pytest.raises(ValueError, match="cannot be enabled"):
        alert_service.enable_rule(AlertNameRequest(name="old"))


def test_disable_and_delete_rules_and_channels_with_roles_and_audit(
    webhook: Webhook,
) -> None:
    risk = Actor("rita", frozenset({"risk"}))
    analyst = Actor("ann", frozenset({"analyst"}))
    alert_service.save_channel(ChannelSpec(name="hook", url=webhook.url), actor=risk)
    alert_service.save_rule(
        AlertRuleSpec(name="dd", kind="drawdown", threshold=0.1, channels=["hook"], cooldown_s=0),
        actor=risk,
    )
    for action in (
        lambda: alert_service.disable_rule(AlertNameRequest(name="dd"), actor=analyst),
        lambda: alert_service.delete_rule(AlertNameRequest(name="dd"), actor=analyst),
        lambda: alert_service.disable_channel(AlertNameRequest(name="hook"), actor=analyst),
        lambda: alert_service.delete_channel(AlertNameRequest(name="hook"), actor=analyst),
    ):
        with pytest.raises(PermissionDenied, match="'risk' role"):
            action()
    # A disabled channel is skipped, with the reason recorded.
    alert_service.disable_channel(AlertNameRequest(name="hook"), actor=risk)
    (result,) = alert_service.evaluate(Snapshot(ts=T0, drawdown=0.2))
    assert result["status"] == "failed" and result["errors"] == ["channel hook is disabled"]
    assert webhook.received == []
    alert_service.enable_channel(AlertNameRequest(name="hook"), actor=risk)
    assert [r["status"] for r in alert_service.evaluate(Snapshot(ts=T0, drawdown=0.2))] == ["sent"]
    # A disabled rule does not fire.
    alert_service.disable_rule(AlertNameRequest(name="dd"), actor=risk)
    assert alert_service.evaluate(Snapshot(ts=T0, drawdown=0.3)) == []
    with pytest.raises(ValueError, match=r"used by rule\(s\) \['dd'\]"):
        alert_service.delete_channel(AlertNameRequest(name="hook"), actor=risk)
    alert_service.delete_rule(AlertNameRequest(name="dd"), actor=risk)
    alert_service.delete_channel(AlertNameRequest(name="hook"), actor=risk)
    assert alert_service.list_rules() == [] and alert_service.list_channels() == []
    with pytest.raises(LookupError, match="no alert rule named 'dd'"):
        alert_service.delete_rule(AlertNameRequest(name="dd"), actor=risk)
    audit = alert_service.audit()
    assert [a["action"] for a in audit] == [
        "alerts.channel.delete",
        "alerts.rule.delete",
        "alerts.rule.disable",
        "alerts.channel.enable",
        "alerts.channel.disable",
        "alerts.rule.save",
        "alerts.channel.save",
    ]
    assert {a["actor"] for a in audit} == {"rita"}
