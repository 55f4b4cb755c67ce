"""Risk page: the limits in force, a validated and audited change form, the history."""

from __future__ import annotations

import streamlit as st
from pydantic import ValidationError

from app.components.forms import model_inputs, show_errors
from app.services import risk as risk_service
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.risk import RiskLimits

st.title("Risk")
version, limits = risk_service.current_limits()
st.caption(
    f"Limits version {version} in force"
    + (" (built-in defaults)" if version == 0 else "")
    + ". Changes need the risk role and a reason, apply from the next decision without a "
    "restart, and are audited below."
)
view_tab, book_tab, change_tab, history_tab = st.tabs(
    ["Limits in force", "Portfolio risk", "Change limits", "History"]
)

with book_tab:
    from app.components.risk import render_risk_report
    from app.services import paper

    monitor_view = paper.monitor()
    report = paper.risk_report(monitor_view)
    if report is None:
        st.info("No paper-trading book yet: start a session on the Paper trading page.")
    else:
        st.caption(
            f"Book of paper session '{monitor_view.session['name']}' as of "
            f"{monitor_view.session['cursor_ts']}."
        )
        render_risk_report(report)

with view_tab:
    rows = [
        {"limit": name, "value": getattr(limits, name), "meaning": field.description}
        for name, field in RiskLimits.model_fields.items()
    ]
    st.dataframe(rows, width="stretch", hide_index=True)

with change_tab:
    with st.form("risk.limits_form"):
        # Inputs start at the values in force; keys include the version so they reset.
        values, slots = model_inputs(
            RiskLimits, key=f"risk.v{version}", initial=limits.model_dump()
        )
        reason = st.text_area(
            "Reason for the change",
            key="risk.reason",
            placeholder="e.g. reduce single-name risk before earnings",
        )
        reason_slot = st.empty()
        submitted = st.form_submit_button("Apply new limits", type="primary")
    if submitted:
        try:
            change = risk_service.set_limits(
                values, reason=reason, expected_version=version, actor=current_actor()
            )
        except ValidationError as exc:
            for message in show_errors(exc, slots):
                st.error(message)
        except PermissionDenied as exc:
            st.error(str(exc))
        except ValueError as exc:
            message = str(exc)
            (reason_slot.error if message.startswith("reason") else st.error)(message)
        else:
            changed = ", ".join(f"{k}: {a} → {b}" for k, (a, b) in change.changes.items())
            st.success(f"Version {change.version} in force: {changed}.")

with history_tab:
    changes = risk_service.history()
    if not changes:
        st.info("No changes yet: the built-in defaults are in force.")
    else:
        st.dataframe(
            [
                {
                    "version": c.version,
                    "when": c.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "who": c.changed_by,
                    "role": c.role,
                    "reason": c.reason,
                    "changes": "; ".join(f"{k}: {a} → {b}" for k, (a, b) in c.changes.items()),
                }
                for c in changes
            ],
            width="stretch",
            hide_index=True,
        )
