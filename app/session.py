"""Who is using the app: local single-user mode, hashed-password users, or OIDC.

Password sign-in is throttled per user and per client (slow-down after 3 failures,
15-minute lockout after 10; see :mod:`app.services.signin`). A signed-in browser keeps a
server-side session whose token rides in the URL's ``session`` query parameter, so a
page reload does not sign the user out; the token is checked against the database on
every run, so signing out (or ``workbench token revoke``) ends it at once.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.services import signin
from app.services.auth import Actor, PermissionDenied, actor_from_env, auth_mode, oidc_actor
from app.services.auth import secrets_table as _secrets_table
from core.config import get_settings

ACTOR = "auth.actor"
TOKEN = "auth.session_token"
QUERY_KEY = "session"
ANONYMOUS = Actor("anonymous", frozenset())


def _secrets() -> dict[str, Any]:
    return _secrets_table()


def current_actor() -> Actor:
    """The signed-in user (or the local user); pages pass it to every service call."""
    mode = auth_mode()
    if mode == "local":
        return actor_from_env()  # LOCAL unless WORKBENCH_USER/ROLES name someone
    if mode == "oidc":
        user = getattr(st, "user", None)
        if user is not None and getattr(user, "is_logged_in", False):
            return oidc_actor(str(user.get("email", "")), _secrets())
        return ANONYMOUS
    actor = st.session_state.get(ACTOR)
    return actor if isinstance(actor, Actor) else ANONYMOUS


def _client() -> str:
    try:
        ip = st.context.ip_address
    except Exception:  # no browser context (bare script run)
        ip = None
    return f"web:{ip or 'localhost'}"


def _restore_session() -> str | None:
    """Re-check this browser's session against the database; returns a notice or None."""
    token = st.session_state.get(TOKEN) or st.query_params.get(QUERY_KEY)
    if not token:
        st.session_state.pop(ACTOR, None)
        return None
    actor = signin.resume_session(str(token))
    if actor is None:
        st.session_state.pop(ACTOR, None)
        st.session_state.pop(TOKEN, None)
        st.query_params.pop(QUERY_KEY, None)
        return "Your session has ended (expired, signed out or revoked). Sign in again."
    st.session_state[ACTOR], st.session_state[TOKEN] = actor, token
    if st.query_params.get(QUERY_KEY) != token:  # page switches drop query parameters
        st.query_params[QUERY_KEY] = token
    return None


def _sign_in_form() -> None:
    with st.form("auth.form"):
        username = st.text_input("User", key="auth.user")
        password = st.text_input("Password", type="password", key="auth.password")
        submitted = st.form_submit_button("Sign in")
    if not submitted:
        return
    try:
        actor = signin.sign_in(username.strip(), password, client=_client())
    except signin.SignInThrottled as exc:
        st.error(str(exc))
        return
    except (PermissionDenied, ValueError) as exc:
        st.error(str(exc))
        return
    token = signin.start_session(actor)
    st.session_state[ACTOR], st.session_state[TOKEN] = actor, token
    st.query_params[QUERY_KEY] = token
    st.rerun()


def _sign_out(mode: str) -> None:
    if mode == "oidc":
        st.logout()
    token = st.session_state.pop(TOKEN, None)
    if token:
        signin.end_session(str(token))
    st.session_state.pop(ACTOR, None)
    st.query_params.pop(QUERY_KEY, None)
    st.rerun()


def apply_upload_limit() -> None:
    """Make Streamlit's ``server.maxUploadSize`` the workbench's upload limit.

    ``make run`` passes ``--server.maxUploadSize`` from the settings and
    ``.streamlit/config.toml`` holds the default; this covers a plain ``streamlit run``
    with ``WORKBENCH_UPLOAD_MAX_MB`` set. Streamlit's upload route reads the option on
    every request and refuses a larger body from its Content-Length, before reading it.
    """
    from streamlit import config

    limit = get_settings().upload_max_server_mb
    if config.get_option("server.maxUploadSize") != limit:
        # Internal API: st.set_option only accepts client options.
        config.set_option("server.maxUploadSize", limit, "WORKBENCH_UPLOAD_MAX_MB")


def render_sign_in() -> None:
    """Sidebar: the mode label, and a sign-in form or sign-out button when configured.

    Call it before anything that shows data: when nobody is signed in it stops the run.
    """
    apply_upload_limit()
    mode = auth_mode()
    with st.sidebar:
        if mode == "local":
            st.caption(
                "Local single-user mode: you hold every role (analyst, pm, risk, "
                "trader). Configure users in .streamlit/secrets.toml to require sign-in."
            )
            return
        notice = _restore_session() if mode == "password" else None
        actor = current_actor()
        if actor.name != "anonymous":
            st.caption(f"Signed in as **{actor.name}** ({', '.join(sorted(actor.roles))})")
            if st.button("Sign out", key="auth.sign_out"):
                _sign_out(mode)
            return
        if notice:
            st.warning(notice)
        if mode == "oidc":
            if st.button("Sign in", key="auth.sign_in"):
                st.login()
        else:
            _sign_in_form()
    st.info("Sign in (sidebar) to use the workbench.")
    st.stop()
