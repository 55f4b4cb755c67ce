"""Who is using the app: local single-user mode, hashed-password users, or OIDC."""

from __future__ import annotations

import tomllib
from typing import Any

import streamlit as st

from app.services.auth import (
    Actor,
    PermissionDenied,
    actor_from_env,
    authenticate,
    configured_users,
    oidc_actor,
)
from core.config import get_settings

ACTOR = "auth.actor"


def _secrets() -> dict[str, Any]:
    path = get_settings().secrets_file
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def auth_mode() -> str:
    """``"local"``, ``"password"`` or ``"oidc"`` from the secrets file."""
    table = _secrets()
    if table.get("auth", {}).get("client_id") or table.get("auth", {}).get("providers"):
        return "oidc"
    if (table.get("workbench") or {}).get("users"):
        return "password"
    return "local"


def current_actor() -> Actor:
    """The signed-in user (or the local user); pages pass it to every service call."""
    mode = auth_mode()
    if mode == "local":
        return actor_from_env()  # LOCAL unless WORKBENCH_USER/ROLES name someone
    if mode == "oidc":
        user = getattr(st, "user", None)
        if user is not None and getattr(user, "is_logged_in", False):
            return oidc_actor(str(user.get("email", "")), _secrets())
        return Actor("anonymous", frozenset())
    actor = st.session_state.get(ACTOR)
    return actor if isinstance(actor, Actor) else Actor("anonymous", frozenset())


def render_sign_in() -> None:
    """Sidebar: the mode label, and a sign-in form or sign-out button when configured."""
    mode = auth_mode()
    with st.sidebar:
        if mode == "local":
            st.caption(
                "Local single-user mode: you hold every role (analyst, pm, risk, "
                "trader). Configure users in .streamlit/secrets.toml to require sign-in."
            )
            return
        actor = current_actor()
        if actor.name != "anonymous":
            st.caption(f"Signed in as **{actor.name}** ({', '.join(sorted(actor.roles))})")
            if st.button("Sign out", key="auth.sign_out"):
                if mode == "oidc":
                    st.logout()
                st.session_state.pop(ACTOR, None)
                st.rerun()
            return
        if mode == "oidc":
            if st.button("Sign in", key="auth.sign_in"):
                st.login()
        else:
            with st.form("auth.form"):
                username = st.text_input("User", key="auth.user")
                password = st.text_input("Password", type="password", key="auth.password")
                if st.form_submit_button("Sign in"):
                    try:
                        users = configured_users(_secrets())
                        st.session_state[ACTOR] = authenticate(username, password, users)
                        st.rerun()
                    except (PermissionDenied, ValueError) as exc:
                        st.error(str(exc))
    st.info("Sign in (sidebar) to use the workbench.")
    st.stop()
