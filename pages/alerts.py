"""Alerts page: channels, rules (thresholds in their unit), disable/delete, tests, history."""

from __future__ import annotations

import streamlit as st

from app.components import alerts as ui
from app.components.alerts import ERRORS, FLASH, render_disable_delete, show_errors
from app.operations.alerts import AlertLogRequest, AlertTestRequest
from app.services import alerts
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.alerts import KINDS
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
flash, flash_slot = st.session_state.pop(FLASH, None), st.empty()  # the tabs stay in place
if flash:
    (flash_slot.success if flash[0] == "ok" else flash_slot.error)(flash[1])
errors: dict[str, list[str]] = st.session_state.pop(ERRORS, {})
history_tab, rules_tab, channels_tab = st.tabs(["History", "Rules", "Channels"])
# Read after the save callbacks ran: what a save created is listed in this same run.
channels = alerts.list_channels()
names = ["in-app", *[c["name"] for c in channels]]

with channels_tab:
    st.dataframe(ui.channel_rows(channels), width="stretch", hide_index=True)
    with st.form("alerts.channel_form"):
        c1, c2, c3 = st.columns([1, 3, 1])
        c1.text_input("Name", key="alerts.ch.name", placeholder="ops-slack")
        show_errors(c1, errors, "channel.name")
        c2.text_input(
            "Apprise URL (stored encrypted)",
            key="alerts.ch.url",
            type="password",
            placeholder="slack://TokenA/TokenB/TokenC or json://host:port/path",
        )
        show_errors(c2, errors, "channel.url")
        c3.checkbox("Enabled", value=True, key="alerts.ch.enabled")
        show_errors(st, errors, "channel")
        st.form_submit_button("Save channel", on_click=ui.save_channel)
    render_disable_delete(
        "channel", [c["name"] for c in channels], {c["name"]: c["enabled"] for c in channels}
    )
    t1, t2 = st.columns([3, 1])
    if st.session_state.get("alerts.test_channel") not in names:  # a deleted channel
        st.session_state.pop("alerts.test_channel", None)
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
    st.dataframe(ui.rule_rows(rules) or [{"rules": "none yet"}], width="stretch", hide_index=True)
    # The kind sits outside the form so that the threshold field shows its unit at once.
    kind = st.selectbox("Kind", KINDS, key="alerts.rule.kind")
    unit = THRESHOLDS.get(kind)
    with st.form("alerts.rule_form"):
        r1, r3 = st.columns(2)
        r1.text_input("Name", key="alerts.rule.name", placeholder="drawdown-10")
        show_errors(r1, errors, "rule.name")
        if unit is not None:
            r3.number_input(
                f"Threshold: {unit.unit}",
                value=float(unit.example.split()[0]),
                step=1.0 if unit.integer or unit.low >= 1 else 0.01,
                format="%.0f" if unit.integer else "%.4f",
                key=f"alerts.rule.threshold.{kind}",
                help=f"Valid range {unit.range_text()}, e.g. {unit.example}.",
            )
            r3.caption(f"{unit.unit}; valid range {unit.range_text()}; e.g. {unit.example}")
        else:
            r3.caption(f"A {kind} rule takes no threshold.")
        show_errors(r3, errors, "rule.threshold")
        r4, r5, r6, r7 = st.columns(4)
        r4.text_input("Model metric (model_metric: auc, brier...)", key="alerts.rule.metric")
        show_errors(r4, errors, "rule.metric")
        r5.multiselect("Channels", names, default=["in-app"], key="alerts.rule.channels")
        show_errors(r5, errors, "rule.channels")
        r6.selectbox(
            "Severity", ["info", "warning", "critical"], index=1, key="alerts.rule.severity"
        )
        r7.number_input("Cooldown (s)", 0, 7 * 86400, 900, 60, key="alerts.rule.cooldown")
        show_errors(st, errors, "rule")
        st.form_submit_button("Save rule", type="primary", on_click=ui.save_rule)
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
        st.dataframe(ui.event_rows(events), width="stretch", hide_index=True)
    changes = alerts.audit(AlertLogRequest(limit=50))
    if changes:
        st.markdown("**Changes to rules and channels**")
        st.dataframe(ui.audit_rows(changes), width="stretch", hide_index=True)
