"""Sign-in with hashed passwords from secrets, and role checks enforced by the services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from app.services import risk as risk_service
from app.services import signin
from app.services.auth import PermissionDenied, authenticate
from app.services.signin import use_clock
from core.auth.passwords import hash_password, verify_password
from core.auth.roles import configured_users
from core.config import get_settings
from tests.pages.helpers import MAIN


def test_password_hash_round_trip_and_rejections() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("pbkdf2_sha256$240000$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterz", stored)
    assert hash_password("correct horse battery") != stored  # salted
    with pytest.raises(ValueError, match="at least 8"):
        hash_password("short")
    users = configured_users(
        {"workbench": {"users": {"ann": {"password_hash": stored, "roles": ["analyst"]}}}}
    )
    assert authenticate("ann", "correct horse battery", users).roles == frozenset({"analyst"})
    with pytest.raises(PermissionDenied):
        authenticate("ann", "nope nope nope", users)
    with pytest.raises(ValueError, match="unknown roles"):
        configured_users(
            {"workbench": {"users": {"x": {"password_hash": stored, "roles": ["admin"]}}}}
        )


@pytest.fixture
def secrets_with_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(
        "[workbench.users.ann]\n"
        f'password_hash = "{hash_password("analyst-pass-1")}"\n'
        'roles = ["analyst"]\n'
        "[workbench.users.rita]\n"
        f'password_hash = "{hash_password("risk-pass-22")}"\n'
        'roles = ["risk"]\n'
    )
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(path))
    get_settings.cache_clear()
    return path


def _sign_in(user: str, password: str):  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=120).run()
    assert any("Sign in" in i.value for i in at.info)
    assert not any(t.value == "Data" for t in at.title)  # nothing shown before sign-in
    at.sidebar.text_input(key="auth.user").set_value(user)
    at.sidebar.text_input(key="auth.password").set_value(password)
    at.sidebar.button(key="FormSubmitter:auth.form-Sign in").click().run()
    return at


def test_wrong_password_keeps_the_app_closed(secrets_with_users: Path) -> None:
    at = _sign_in("ann", "wrong-password")
    assert any("wrong password" in e.value for e in at.sidebar.error)
    assert not any(t.value == "Data" for t in at.title)


def test_analyst_cannot_change_limits_but_risk_user_can(secrets_with_users: Path) -> None:
    at = _sign_in("ann", "analyst-pass-1")
    assert any(t.value == "Data" for t in at.title)
    assert any("Signed in as **ann**" in c.value for c in at.sidebar.caption)
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "risk.py")).run()
    at.number_input(key="risk.form.max_weight_per_asset").set_value(0.2)
    at.text_area(key="risk.reason").set_value("tighten")
    at.button(key="FormSubmitter:risk.limits_form-Apply new limits").click().run()
    assert any("needs the 'risk' role" in e.value for e in at.error)
    assert risk_service.current_limits()[0] == 0
    at = _sign_in("rita", "risk-pass-22")
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "risk.py")).run()
    at.number_input(key="risk.form.max_weight_per_asset").set_value(0.2)
    at.text_area(key="risk.reason").set_value("tighten")
    at.button(key="FormSubmitter:risk.limits_form-Apply new limits").click().run()
    (change,) = risk_service.history()
    assert change.changed_by == "rita" and change.changes["max_weight_per_asset"] == (0.25, 0.2)


def _all_text(node: Any) -> str:
    """Every proto (labels, options, values) under an element-tree node, as text."""
    parts = [str(getattr(node, "proto", ""))]
    for child in getattr(node, "children", {}).values():
        parts.append(_all_text(child))
    return "\n".join(parts)


def test_nothing_from_the_data_is_shown_before_sign_in(secrets_with_users: Path) -> None:
    from app.services import data as data_service

    at = AppTest.from_file(MAIN, default_timeout=120).run()
    infos = [i for i in data_service.list_datasets() if i.symbols]
    names = [i.name for i in infos]
    assert "ohlcv_daily" in names  # the embedded data the sidebar would list
    symbols = [s.symbol for i in infos for s in i.symbols[:3]]
    shown = _all_text(at.main) + _all_text(at.sidebar)
    assert not at.selectbox  # no dataset or symbol picker
    for secret in [*names, *symbols]:
        assert secret not in shown, secret
    assert "Sign in" in shown
    at = _sign_in("ann", "analyst-pass-1")
    assert at.selectbox(key="data.dataset").value in names


def test_a_reload_keeps_the_user_signed_in_until_sign_out(secrets_with_users: Path) -> None:
    at = _sign_in("ann", "analyst-pass-1")
    token = at.query_params["session"]
    assert token.startswith("wbs_") and "." in token
    # A reload is a new browser session with the same URL (and its query parameters).
    reloaded = AppTest.from_file(MAIN, default_timeout=120)
    reloaded.query_params["session"] = token
    reloaded.run()
    assert any(t.value == "Data" for t in reloaded.title)
    assert any("Signed in as **ann**" in c.value for c in reloaded.sidebar.caption)
    # Switching pages keeps the session in the URL.
    reloaded.switch_page(str(Path(MAIN).parents[1] / "pages" / "risk.py")).run()
    assert reloaded.query_params["session"] == token
    # A forged or tampered token opens nothing.
    forged = AppTest.from_file(MAIN, default_timeout=120)
    forged.query_params["session"] = token[:-1] + ("0" if token[-1] != "0" else "1")
    forged.run()
    assert not any(t.value == "Data" for t in forged.title)
    # Signing out revokes the token server-side: the old URL no longer signs anyone in.
    reloaded.sidebar.button(key="auth.sign_out").click().run()
    assert "session" not in reloaded.query_params
    again = AppTest.from_file(MAIN, default_timeout=120)
    again.query_params["session"] = token
    again.run()
    assert not any(t.value == "Data" for t in again.title)
    assert any("session has ended" in w.value for w in again.sidebar.warning)


def test_session_expires(secrets_with_users: Path) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with use_clock(lambda: t0):
        at = _sign_in("ann", "analyst-pass-1")
        token = at.query_params["session"]
    with use_clock(lambda: t0 + timedelta(hours=11, minutes=59)):
        assert signin.resume_session(token) is not None
    with use_clock(lambda: t0 + timedelta(hours=12, seconds=1)):
        assert signin.resume_session(token) is None


def test_repeated_failures_slow_the_sign_in_down(secrets_with_users: Path) -> None:
    clock = {"now": datetime(2026, 3, 2, 9, 0, tzinfo=UTC)}
    with use_clock(lambda: clock["now"]):
        at = AppTest.from_file(MAIN, default_timeout=120).run()

        def attempt(password: str) -> AppTest:
            at.sidebar.text_input(key="auth.user").set_value("ann")
            at.sidebar.text_input(key="auth.password").set_value(password)
            return at.sidebar.button(key="FormSubmitter:auth.form-Sign in").click().run()

        for _ in range(3):
            assert any("wrong password" in e.value for e in attempt("bad-password").sidebar.error)
        # The 4th attempt, even with the right password, must wait 1 s after the 3rd failure.
        attempt("analyst-pass-1")
        (message,) = [e.value for e in at.sidebar.error]
        assert "3 failed sign-ins for user ann" in message
        assert "try again at 09:00:01 UTC (in 1 s)" in message
        assert not any(t.value == "Data" for t in at.title)
        clock["now"] += timedelta(seconds=1)
        attempt("analyst-pass-1")
        assert any(t.value == "Data" for t in at.title)


def test_lockout_after_ten_failures_per_user_and_per_client(secrets_with_users: Path) -> None:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    clock = {"now": t0}
    with use_clock(lambda: clock["now"]):
        for n in range(10):
            with pytest.raises(PermissionDenied, match="wrong password"):
                signin.sign_in("ann", "bad-password", client="web:10.0.0.1")
            if n >= 2:  # wait out the growing delay: 1, 2, 4, ... 128 s
                clock["now"] += timedelta(seconds=2 ** (n - 2))
        last_failure = clock["now"] - timedelta(seconds=2**7)
        # Locked: the right password from the same or another client is refused.
        for client in ("web:10.0.0.1", "web:10.0.0.2"):
            with pytest.raises(signin.SignInThrottled, match="locked for 15 minutes") as info:
                signin.sign_in("ann", "analyst-pass-1", client=client)
            assert info.value.retry_at == last_failure + timedelta(minutes=15)
            if client == "web:10.0.0.1":
                assert "10 failed sign-ins for user ann" in str(info.value)
        # The client is locked too, for every user; another client is not.
        with pytest.raises(signin.SignInThrottled, match="this client"):
            signin.sign_in("rita", "risk-pass-22", client="web:10.0.0.1")
        assert signin.sign_in("rita", "risk-pass-22", client="web:10.0.0.2").name == "rita"
        clock["now"] = last_failure + timedelta(minutes=15)
        assert signin.sign_in("ann", "analyst-pass-1", client="web:10.0.0.1").name == "ann"
        # A success resets the count: one new failure does not slow the next attempt.
        with pytest.raises(PermissionDenied, match="wrong password"):
            signin.sign_in("ann", "bad-password", client="web:10.0.0.1")
        assert signin.sign_in("ann", "analyst-pass-1", client="web:10.0.0.1").name == "ann"
