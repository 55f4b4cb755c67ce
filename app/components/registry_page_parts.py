"""The Model registry page's Promote and Roll back forms: each needs its own tick and a
reason, and a done action clears both forms for the next one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import streamlit as st

from app.operations.registry import PromoteRequest, RollbackRequest
from app.services import auth, registry
from app.session import current_actor
from core.registry import VersionRow

FLASH = "registry.flash"
# After a promote or a rollback, both confirmation boxes (and reasons) start empty again,
# so every action needs its own tick.
RESET_CONFIRMATIONS = "registry.reset_confirmations"
CONFIRMATION_DEFAULTS: dict[str, bool | str] = {
    "registry.promote.confirm": False,
    "registry.promote.reason": "",
    "registry.rollback.confirm": False,
    "registry.rollback.reason": "",
}
ACTION_ERRORS = (auth.PermissionDenied, LookupError, ValueError, RuntimeError)


def _done(message: str) -> None:
    """A promote or rollback went through: say so after the rerun, with both forms cleared."""
    st.session_state[FLASH] = message
    st.session_state[RESET_CONFIRMATIONS] = True
    st.rerun()


def render_promote(versions: Sequence[VersionRow], label: Callable[[int], str]) -> None:
    """Promote a candidate or archived version to champion of its name."""
    st.subheader("Promote")
    eligible = [v.id for v in versions if v.stage not in ("champion", "deleted")]
    if not eligible:
        st.info("Every version is already a champion of its name.")
        return
    with st.form("registry.promote"):
        target = st.selectbox(
            "Version (candidate or archived)",
            eligible,
            format_func=label,
            key="registry.promote.version",
        )
        reason = st.text_input("Reason (kept in the audit trail)", key="registry.promote.reason")
        confirm = st.checkbox(
            "I confirm: the current champion of this name is archived",
            key="registry.promote.confirm",
        )
        promote = st.form_submit_button("Promote to champion", type="primary")
    if promote:
        if not confirm:
            st.error("Tick the confirmation box to promote.")
        elif not reason.strip():
            st.error("Give a reason: it is kept in the audit trail.")
        else:
            try:
                row = registry.promote(
                    PromoteRequest(version_id=int(target), reason=reason.strip()),
                    actor=current_actor(),
                )
            except ACTION_ERRORS as exc:
                st.error(str(exc))
            else:
                _done(f"{row.name} v{row.version} is now the champion.")


def render_rollback(versions: Sequence[VersionRow], champions: Mapping[str, VersionRow]) -> None:
    """Roll a model back to the champion its current one replaced."""
    st.subheader("Roll back")
    names = sorted({v.name for v in versions if v.stage == "champion"})
    if not names:
        st.info("No model has a champion to roll back.")
        return
    with st.form("registry.rollback"):
        name = st.selectbox("Model", names, key="registry.rollback.name")
        st.caption(
            "Champions now: "
            + ", ".join(f"{n} v{champions[n].version}" for n in names)
            + ". A rollback restores the champion each one replaced."
        )
        reason = st.text_input("Reason (kept in the audit trail)", key="registry.rollback.reason")
        confirm = st.checkbox(
            "I confirm: the champion is archived and the previous one restored",
            key="registry.rollback.confirm",
        )
        rollback = st.form_submit_button("Roll back")
    if rollback:
        if not confirm:
            st.error("Tick the confirmation box to roll back.")
        elif not reason.strip():
            st.error("Give a reason: it is kept in the audit trail.")
        else:
            try:
                row = registry.rollback(
                    RollbackRequest(name=name, reason=reason.strip()), actor=current_actor()
                )
            except ACTION_ERRORS as exc:
                st.error(str(exc))
            else:
                _done(f"Rolled back {name}: v{row.version} is the champion again.")
