"""Alerts page: channel and rule forms with per-field errors, send test, history."""

from __future__ import annotations

from app.services import alerts
from tests.core.test_alerts import webhook  # noqa: F401  (fixture)
from tests.pages.helpers import metrics, open_app

SAVE_CHANNEL = "FormSubmitter:alerts.channel_form-Save channel"
SAVE_RULE = "FormSubmitter:alerts.rule_form-Save rule"


def test_bad_channel_url_and_rule_without_metric_are_rejected_beside_fields() -> None:
    at = open_app("alerts")
    at.text_input(key="alerts.ch.name").set_value("bad")
    at.text_input(key="alerts.ch.url").set_value("nonsense://nowhere")
    at.button(key=SAVE_CHANNEL).click().run()
    assert any("not a notification URL" in e.value for e in at.error)
    at.text_input(key="alerts.rule.name").set_value("auc-low")
    at.selectbox(key="alerts.rule.kind").set_value("model_metric_below")
    at.button(key=SAVE_RULE).click().run()
    assert any("name the model metric" in e.value for e in at.error)
    assert alerts.list_channels() == [] and alerts.list_rules() == []


def test_channel_rule_test_send_and_history(webhook) -> None:  # noqa: F811
    at = open_app("alerts")
    at.text_input(key="alerts.ch.name").set_value("hook")
    at.text_input(key="alerts.ch.url").set_value(webhook.url)
    at.button(key=SAVE_CHANNEL).click().run()
    assert any("Channel hook saved" in s.value for s in at.success)
    at.text_input(key="alerts.rule.name").set_value("dd10")
    at.selectbox(key="alerts.rule.kind").set_value("drawdown")
    at.number_input(key="alerts.rule.threshold").set_value(0.1)
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
