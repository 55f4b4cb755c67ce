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


def _act(confirm: bool, reason: str, verb: str, action: Callable[[str], str]) -> None:
    """Run a submitted promote or rollback once it has its tick and a reason.

    ``action`` takes the stripped reason and returns the success message, which shows after
    the rerun, with both forms cleared; a refusal shows in place.
    """
    if not confirm:
        st.error(f"Tick the confirmation box to {verb}.")
        return
    if not reason.strip():
        st.error("Give a reason: it is kept in the audit trail.")
        return
    try:
        message = action(reason.strip())
    except ACTION_ERRORS as exc:
        st.error(str(exc))
        return
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

        def promote_target(why: str) -> str:
            row = registry.promote(
                PromoteRequest(version_id=int(target), reason=why), actor=current_actor()
            )
            return f"{row.name} v{row.version} is now the champion."

        _act(confirm, reason, "promote", promote_target)


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

        def roll_back(why: str) -> str:
            row = registry.rollback(RollbackRequest(name=name, reason=why), actor=current_actor())
            return f"Rolled back {name}: v{row.version} is the champion again."

        _act(confirm, reason, "roll back", roll_back)
