"""Alerts page: channels, rules (thresholds in their unit), disable/delete, tests, history."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app.components.alerts import FLASH, render_disable_delete
from app.operations.alerts import AlertLogRequest, AlertTestRequest
from app.operations.errors import field_errors
from app.services import alerts
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.alerts import KINDS, AlertRuleSpec, ChannelSpec
from core.alerts.rules import THRESHOLDS

st.title("Alerts")
st.caption(
    "Rules watch drawdown, daily loss, limit breaches and near-breaches, rejected orders, "
    "broker disconnects, reconciliation mismatches, regime changes and latency; the live "
    "model's metrics against its registration figures (model_metric), feature drift "
    "(drift, PSI), stale data (bar intervals while the market is open), the worker "
    "heartbeat (checked by a watchdog outside the worker), and data quality (data_gap, "
    "outlier_return, bad_tick). Each alert names the rule and kind that decided. Channels "
    "use apprise URLs (email, Slack, Telegram, webhooks), stored encrypted and shown "
    "masked; in-app alerts land in the history below."
)
flash = st.session_state.pop(FLASH, None)
if flash:
    (st.success if flash[0] == "ok" else st.error)(flash[1])
history_tab, rules_tab, channels_tab = st.tabs(["History", "Rules", "Channels"])


# Labels of the fields whose names are not the words the page shows (plain words such as
# "threshold" are left alone: they also appear inside the rules' messages).
LABELS = {"url": "Apprise URL", "cooldown_s": "Cooldown (s)"}


def _field_errors(exc: Exception, slots: dict) -> None:  # type: ignore[type-arg]
    """Each problem as a plain sentence beside its field (a rule across fields names it
    first: "Threshold: a drawdown rule needs ...")."""
    for problem in field_errors(exc, labels=LABELS):
        field = problem.field or problem.message.split(":", 1)[0].lower()
        slot = slots.get(field)
        (slot.error if slot is not None else st.error)(problem.message)


with channels_tab:
    channels = alerts.list_channels()
    st.dataframe(
        channels or [{"name": "in-app", "url": "in-app", "enabled": True}],
        width="stretch",
        hide_index=True,
    )
    with st.form("alerts.channel_form"):
        c1, c2, c3 = st.columns([1, 3, 1])
        name = c1.text_input("Name", key="alerts.ch.name", placeholder="ops-slack")
        name_slot = c1.empty()
        url = c2.text_input(
            "Apprise URL (stored encrypted)",
            key="alerts.ch.url",
            type="password",
            placeholder="slack://TokenA/TokenB/TokenC or json://host:port/path",
        )
        url_slot = c2.empty()
        enabled = c3.checkbox("Enabled", value=True, key="alerts.ch.enabled")
        save_channel = st.form_submit_button("Save channel")
    if save_channel:
        try:
            spec = ChannelSpec(name=name.strip(), url=url.strip(), enabled=enabled)
            alerts.save_channel(spec, actor=current_actor())
        except ValidationError as exc:
            _field_errors(exc, {"name": name_slot, "url": url_slot})
        except (PermissionDenied, ValueError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Channel {name} saved: {spec.masked}")
    render_disable_delete(
        "channel", [c["name"] for c in channels], {c["name"]: c["enabled"] for c in channels}
    )
    names = ["in-app", *[c["name"] for c in channels]]
    t1, t2 = st.columns([3, 1])
    target = t1.selectbox("Send a test through", names, key="alerts.test_channel")
    if t2.button("Send test", key="alerts.send_test"):
        try:
            result = alerts.send_test(AlertTestRequest(channel=target), actor=current_actor())
        except (PermissionDenied, ValueError, LookupError) as exc:
            st.error(str(exc))
        else:
            if result["status"] == "sent":
                st.success(f"Test alert sent via {target}.")
            else:
                st.error(f"Test alert via {target} failed: {'; '.join(result['errors'])}")

with rules_tab:
    rules = alerts.list_rules()
    st.dataframe(
        [r.model_dump() for r in rules] or [{"rules": "none yet"}], width="stretch", hide_index=True
    )
    # The kind sits outside the form so that the threshold field shows its unit at once.
    kind = st.selectbox("Kind", KINDS, key="alerts.rule.kind")
    unit = THRESHOLDS.get(kind)
    with st.form("alerts.rule_form"):
        r1, r3 = st.columns(2)
        rule_name = r1.text_input("Name", key="alerts.rule.name", placeholder="drawdown-10")
        rule_name_slot = r1.empty()
        threshold: float | None
        if unit is not None:
            threshold = r3.number_input(
                f"Threshold: {unit.unit}",
                value=float(unit.example.split()[0]),
                step=1.0 if unit.integer or unit.low >= 1 else 0.01,
                format="%.0f" if unit.integer else "%.4f",
                key=f"alerts.rule.threshold.{kind}",
                help=f"Valid range {unit.range_text()}, e.g. {unit.example}.",
            )
            r3.caption(f"{unit.unit}; valid range {unit.range_text()}; e.g. {unit.example}")
        else:
            threshold = None
            r3.caption(f"A {kind} rule takes no threshold.")
        threshold_slot = r3.empty()
        r4, r5, r6, r7 = st.columns(4)
        metric = r4.text_input(
            "Model metric (model_metric: auc, brier...)", key="alerts.rule.metric"
        )
        metric_slot = r4.empty()
        chosen = r5.multiselect("Channels", names, default=["in-app"], key="alerts.rule.channels")
        channels_slot = r5.empty()
        severity = r6.selectbox(
            "Severity", ["info", "warning", "critical"], index=1, key="alerts.rule.severity"
        )
        cooldown = r7.number_input(
            "Cooldown (s)", 0, 7 * 86400, 900, 60, key="alerts.rule.cooldown"
        )
        save_rule = st.form_submit_button("Save rule", type="primary")
    if save_rule:
        try:
            rule_spec = AlertRuleSpec(
                name=rule_name.strip(),
                kind=kind,
                threshold=threshold,
                metric=metric.strip() or None,
                channels=chosen,
                severity=severity,
                cooldown_s=int(cooldown),
            )
            alerts.save_rule(rule_spec, actor=current_actor())
        except ValidationError as exc:
            _field_errors(
                exc,
                {
                    "name": rule_name_slot,
                    "threshold": threshold_slot,
                    "metric": metric_slot,
                    "channels": channels_slot,
                },
            )
        except (PermissionDenied, ValueError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Rule {rule_name} saved.")
    render_disable_delete("rule", [r.name for r in rules], {r.name: r.enabled for r in rules})

with history_tab:
    events = alerts.history(AlertLogRequest(limit=200))
    if not events:
        st.info("No alerts yet. Use 'Send test' on the Channels tab to try a channel.")
    else:
        counts = {
            s: sum(e["status"] == s for e in events) for s in ("sent", "suppressed", "failed")
        }
        c1, c2, c3 = st.columns(3)
        c1.metric("Sent", counts["sent"])
        c2.metric("Suppressed (cooldown)", counts["suppressed"])
        c3.metric("Failed", counts["failed"])
        st.dataframe(events, width="stretch", hide_index=True)
    changes = alerts.audit(AlertLogRequest(limit=50))
    if changes:
        st.markdown("**Changes to rules and channels**")
        st.dataframe(changes, width="stretch", hide_index=True)
