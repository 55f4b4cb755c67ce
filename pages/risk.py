"""Risk page: the limits in force, a validated and audited change form, the history.

The change form keeps the version it was loaded at (``risk.form_version``) in session
state, and its inputs have stable keys. Applying runs in the submit button's callback,
before the page is drawn, so the caption and the table show the new version at once and
the form is reloaded with the limits now in force; a change made against an older version
(another tab applied first) is refused with who changed the limits and when.
"""

from __future__ import annotations

from typing import Any, cast

import streamlit as st
from pydantic import ValidationError

from app.components.numbers import day
from app.components.risk import (
    FORM_KEY,
    LIMIT_LABELS,
    changes_text,
    form_values,
    render_limits_inputs,
    render_limits_table,
    render_risk_report,
)
from app.operations.errors import field_errors
from app.operations.risk import LimitsChangeRequest
from app.services import risk as risk_service
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.risk import RiskLimits
from core.risk.versions import LimitsConflict

FORM_VERSION = "risk.form_version"
REASON = "risk.reason"
ERRORS = "risk.form_errors"
FLASH = "risk.flash"


def _load_form() -> None:
    """Fill the form with the limits in force and remember their version."""
    version, limits = risk_service.current_limits()
    st.session_state.update(form_values(limits))
    st.session_state[FORM_VERSION] = version
    st.session_state[REASON] = ""


def _apply() -> None:
    """Submit callback: validate in each field's unit and range, then store the change."""
    values = {name: st.session_state[f"{FORM_KEY}.{name}"] for name in RiskLimits.model_fields}
    errors: dict[str, str] = {}
    labels = {**LIMIT_LABELS, "reason": "Reason for the change"}
    try:
        RiskLimits.model_validate(values)  # every field checked before anything is stored
        request = LimitsChangeRequest(
            values=values,
            reason=st.session_state.get(REASON, ""),
            expected_version=st.session_state[FORM_VERSION],
        )
        change = risk_service.set_limits(request, actor=current_actor())
    except LimitsConflict as exc:
        errors[""] = f"Not applied, nothing was overwritten: {exc}."
    except (ValidationError, PermissionDenied, ValueError) as exc:
        for problem in field_errors(exc, labels=labels):
            errors.setdefault(problem.field or "", problem.message)
    else:
        st.session_state[FLASH] = (
            f"Version {change.version} in force: {changes_text(change.changes)}."
        )
        _load_form()
    st.session_state[ERRORS] = errors


st.title("Risk")
# A first visit, or a return from another page (whose run dropped the inputs' state).
if FORM_VERSION not in st.session_state or any(
    key not in st.session_state for key in form_values(RiskLimits())
):
    _load_form()
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
    from app.services import paper

    monitor_view = paper.monitor()
    report = paper.risk_report(monitor_view)
    if report is None:
        st.info("No paper-trading book yet: start a session on the Paper trading page.")
    else:
        session = cast(dict[str, Any], monitor_view.session)  # a report implies a session
        st.caption(f"Book of paper session '{session['name']}' as of {day(session['cursor_ts'])}.")
        render_risk_report(report)

with view_tab:
    render_limits_table(limits)

with change_tab:
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(flash)
    errors = st.session_state.pop(ERRORS, {})
    loaded = st.session_state[FORM_VERSION]
    if loaded != version:
        latest = risk_service.history()[0]
        st.warning(
            f"This form holds version {loaded}, but {latest.changed_by} changed the limits "
            f"to version {version} at {latest.created_at:%Y-%m-%d %H:%M:%S} UTC. Reload to "
            "edit the limits in force; applying this form is refused."
        )
        st.button("Reload the limits in force", key="risk.reload", on_click=_load_form)
    if errors.get(""):
        st.error(errors[""])
    with st.form("risk.limits_form"):
        st.caption(f"Editing version {loaded}. Each limit is checked in its unit and range.")
        render_limits_inputs(errors)
        st.text_area(
            "Reason for the change",
            key=REASON,
            placeholder="e.g. reduce single-name risk before earnings",
        )
        if errors.get("reason"):
            st.error(errors["reason"])
        st.form_submit_button("Apply new limits", type="primary", on_click=_apply)

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
                    "changes": changes_text(c.changes),
                }
                for c in changes
            ],
            width="stretch",
            hide_index=True,
        )
