"""Alerts page parts: disable/enable and confirmed delete of rules and channels."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from app.operations.alerts import AlertNameRequest
from app.services import alerts
from app.services.auth import PermissionDenied
from app.session import current_actor

FLASH = "alerts.flash"


def _act(
    what: str, fn: Callable[..., object], confirm_key: str | None = None, **kwargs: object
) -> None:
    """Button callback: run a service action, reset its confirmation, flash the outcome."""
    try:
        fn(actor=current_actor(), **kwargs)
    except (PermissionDenied, ValueError, LookupError) as exc:
        st.session_state[FLASH] = ("error", str(exc))
    else:
        st.session_state[FLASH] = ("ok", what)
    if confirm_key:
        st.session_state[confirm_key] = False


def render_disable_delete(kind: str, names: list[str], enabled: dict[str, bool]) -> None:
    """Enable/disable and delete (with a confirmation) for rules or channels."""
    if not names:
        return
    st.markdown(f"**Disable or delete a {kind}**")
    m1, m2, m3, m4 = st.columns([2, 1, 2, 1])
    name = m1.selectbox(kind.capitalize(), names, key=f"alerts.manage.{kind}")
    on = enabled.get(name, True)
    if kind == "rule":
        toggle = alerts.disable_rule if on else alerts.enable_rule
    else:
        toggle = alerts.disable_channel if on else alerts.enable_channel
    m2.button(
        "Disable" if on else "Enable",
        key=f"alerts.toggle.{kind}",
        on_click=_act,
        args=(f"{kind.capitalize()} {name} {'disabled' if on else 'enabled'}.", toggle),
        kwargs={"request": AlertNameRequest(name=name)},
    )
    confirm = f"alerts.confirm_delete.{kind}"
    sure = m3.checkbox(f"Yes, delete {kind} {name}", key=confirm)
    remove = alerts.delete_rule if kind == "rule" else alerts.delete_channel
    m4.button(
        "Delete",
        key=f"alerts.delete.{kind}",
        disabled=not sure,
        on_click=_act,
        args=(f"{kind.capitalize()} {name} deleted.", remove, confirm),
        kwargs={"request": AlertNameRequest(name=name)},
    )
