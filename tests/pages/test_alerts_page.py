"""Alerts page: channel and rule forms with per-field errors in each kind's unit, send test,
disable and delete with confirmation, history and audit."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from app.services import alerts
from core.alerts import AlertRuleSpec, ChannelSpec
from tests.app.test_alerts_delivery import webhook  # noqa: F401  (fixture)
from tests.pages.helpers import metrics, open_app
from tests.pages.test_risk_page import arrow_fallbacks, table_with  # noqa: F401  (fixture)

SAVE_CHANNEL = "FormSubmitter:alerts.channel_form-Save channel"
SAVE_RULE = "FormSubmitter:alerts.rule_form-Save rule"


def _errors_in_column_of(at: AppTest, key: str) -> list[str]:
    """Errors in the same form column as the widget ``key``."""
    for column in at.columns:
        keys = [getattr(node, "key", None) for node in column.children.values()]
        if key in keys:
            return [node.value for node in column.children.values() if node.type == "error"]
    raise AssertionError(f"no column holds {key}")


def test_bad_channel_url_and_rule_without_metric_are_rejected_beside_fields() -> None:
    at = open_app("alerts")
    at.text_input(key="alerts.ch.name").set_value("bad")
    at.text_input(key="alerts.ch.url").set_value("nonsense://nowhere")
    at.button(key=SAVE_CHANNEL).click().run()
    assert any("not a notification URL" in e for e in _errors_in_column_of(at, "alerts.ch.url"))
    at.selectbox(key="alerts.rule.kind").set_value("model_metric").run()
    at.text_input(key="alerts.rule.name").set_value("auc-low")
    at.button(key=SAVE_RULE).click().run()
    assert any("name the model metric" in e for e in _errors_in_column_of(at, "alerts.rule.metric"))
    assert alerts.list_channels() == [] and alerts.list_rules() == []


def test_a_drawdown_threshold_of_50_is_refused_beside_the_field_in_its_unit() -> None:
    at = open_app("alerts")
    at.selectbox(key="alerts.rule.kind").set_value("drawdown").run()
    field = at.number_input(key="alerts.rule.threshold.drawdown")
    assert "fraction of peak equity" in field.label
    assert any("(0, 1]" in c.value for c in at.caption)
    at.text_input(key="alerts.rule.name").set_value("dd")
    field.set_value(50.0)
    at.button(key=SAVE_RULE).click().run()
    (message,) = _errors_in_column_of(at, "alerts.rule.threshold.drawdown")
    assert "fraction of peak equity in (0, 1]" in message and "for 50% enter 0.5" in message
    assert alerts.list_rules() == []
    # Another kind shows its own unit: heartbeat seconds.
    at.selectbox(key="alerts.rule.kind").set_value("heartbeat").run()
    assert "seconds" in at.number_input(key="alerts.rule.threshold.heartbeat").label
    at.number_input(key="alerts.rule.threshold.heartbeat").set_value(0.0)
    at.text_input(key="alerts.rule.name").set_value("hb")
    at.button(key=SAVE_RULE).click().run()
    assert any(
        "1 to 86,400" in e for e in _errors_in_column_of(at, "alerts.rule.threshold.heartbeat")
    )
    at.number_input(key="alerts.rule.threshold.heartbeat").set_value(120.0)
    at.button(key=SAVE_RULE).click().run()
    assert [(r.name, r.threshold) for r in alerts.list_rules()] == [("hb", 120.0)]


def test_channel_rule_test_send_and_history(webhook) -> None:  # noqa: F811
    at = open_app("alerts")
    at.text_input(key="alerts.ch.name").set_value("hook")
    at.text_input(key="alerts.ch.url").set_value(webhook.url)
    at.button(key=SAVE_CHANNEL).click().run()
    assert any("Channel hook saved" in s.value for s in at.success)
    at.selectbox(key="alerts.rule.kind").set_value("drawdown").run()
    at.text_input(key="alerts.rule.name").set_value("dd10")
    at.number_input(key="alerts.rule.threshold.drawdown").set_value(0.1)
    at.multiselect(key="alerts.rule.channels").set_value(["hook"])
    at.button(key=SAVE_RULE).click().run()
    (rule,) = alerts.list_rules()
    assert (rule.name, rule.kind, rule.threshold, rule.channels) == (
        "dd10",
        "drawdown",
        0.1,
        ["hook"],
    )
    at.selectbox(key="alerts.test_channel").set_value("hook")
    at.button(key="alerts.send_test").click().run()
    assert any("Test alert sent via hook" in s.value for s in at.success)
    assert len(webhook.received) == 1
    at.run()
    assert metrics(at)["Sent"] == "1"
    assert alerts.history()[0]["kind"] == "test"


def test_rules_and_channels_can_be_disabled_and_deleted_with_confirmation() -> None:
    alerts.save_channel(ChannelSpec(name="ops", url="json://127.0.0.1:9/hook"))
    alerts.save_rule(AlertRuleSpec(name="dd", kind="drawdown", threshold=0.1, channels=["ops"]))
    at = open_app("alerts")
    at.selectbox(key="alerts.manage.rule").set_value("dd")
    at.button(key="alerts.toggle.rule").click().run()
    assert any("Rule dd disabled" in s.value for s in at.success)
    assert [r.enabled for r in alerts.list_rules()] == [False]
    at.button(key="alerts.toggle.rule").click().run()  # the button now reads "Enable"
    assert [r.enabled for r in alerts.list_rules()] == [True]
    # Delete stays disabled until confirmed, and the confirmation resets after use.
    assert at.button(key="alerts.delete.rule").disabled
    at.checkbox(key="alerts.confirm_delete.channel").check().run()
    at.button(key="alerts.delete.channel").click().run()
    assert any("used by rule(s) ['dd']" in e.value for e in at.error)
    assert at.checkbox(key="alerts.confirm_delete.channel").value is False
    at.checkbox(key="alerts.confirm_delete.rule").check().run()
    at.button(key="alerts.delete.rule").click().run()
    assert alerts.list_rules() == []
    assert at.checkbox(key="alerts.confirm_delete.channel").value is False
    at.button(key="alerts.toggle.channel").click().run()
    assert [c["enabled"] for c in alerts.list_channels()] == [False]
    at.checkbox(key="alerts.confirm_delete.channel").check().run()
    at.button(key="alerts.delete.channel").click().run()
    assert alerts.list_channels() == []
    actions = [(a["action"], a["target"]) for a in alerts.audit()]
    assert actions[:5] == [
        ("alerts.channel.delete", "ops"),
        ("alerts.channel.disable", "ops"),
        ("alerts.rule.delete", "dd"),
        ("alerts.rule.enable", "dd"),
        ("alerts.rule.disable", "dd"),
    ]
    assert all(a["actor"] == "local (local mode)" for a in alerts.audit())


def test_what_a_save_creates_is_listed_in_the_same_run(
    arrow_fallbacks: list[str],  # noqa: F811
) -> None:
    """A saved channel is offered (and chosen) in "Send a test through" and in a rule's
    channels at once; a saved rule in "Disable or delete a rule"; every table is text in
    its unit (no column mixes types: no Arrow fallback)."""
    at = open_app("alerts")
    at.text_input(key="alerts.ch.name").set_value("ops")
    at.text_input(key="alerts.ch.url").set_value("json://127.0.0.1:9/hook")
    at.button(key=SAVE_CHANNEL).click().run()
    assert not at.exception
    assert at.selectbox(key="alerts.test_channel").options == ["in-app", "ops"]
    assert at.selectbox(key="alerts.test_channel").value == "ops"
    assert at.multiselect(key="alerts.rule.channels").options == ["in-app", "ops"]
    assert at.selectbox(key="alerts.manage.channel").value == "ops"
    at.selectbox(key="alerts.rule.kind").set_value("drawdown").run()
    at.text_input(key="alerts.rule.name").set_value("dd10")
    at.number_input(key="alerts.rule.threshold.drawdown").set_value(0.1)
    at.button(key=SAVE_RULE).click().run()
    assert any(s.value == "Rule dd10 saved." for s in at.success)
    assert at.selectbox(key="alerts.manage.rule").options == ["dd10"]
    rules = table_with(at, "threshold")
    assert rules.to_dict("records") == [
        {
            "name": "dd10",
            "kind": "drawdown",
            "threshold": "10.0%",
            "metric": "–",
            "channels": "in-app",
            "severity": "warning",
            "cooldown": "900 s",
            "enabled": "yes",
        }
    ]
    at.selectbox(key="alerts.rule.kind").set_value("heartbeat").run()
    at.text_input(key="alerts.rule.name").set_value("hb")
    at.number_input(key="alerts.rule.threshold.heartbeat").set_value(3600.0)
    at.button(key=SAVE_RULE).click().run()
    assert list(table_with(at, "threshold")["threshold"]) == ["10.0%", "3,600 s"]
    at.button(key="alerts.send_test").click().run()  # through "ops": nobody listens there
    assert any(e.value.startswith("Test alert via ops failed") for e in at.error)
    history = table_with(at, "severity", "status")
    assert list(zip(history["kind"], history["status"], strict=True)) == [("test", "failed")]
    assert "via ops" in history["message"][0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", history["at"][0])
    assert arrow_fallbacks == []
