"""Sign-in with hashed passwords from secrets, and role checks enforced by the services."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services import risk as risk_service
from app.services.auth import (
    PermissionDenied,
    authenticate,
    configured_users,
    hash_password,
    verify_password,
)
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
    at.number_input(key="risk.v0.max_weight_per_asset").set_value(0.2)
    at.text_area(key="risk.reason").set_value("tighten")
    at.button(key="FormSubmitter:risk.limits_form-Apply new limits").click().run()
    assert any("needs the 'risk' role" in e.value for e in at.error)
    assert risk_service.current_limits()[0] == 0
    at = _sign_in("rita", "risk-pass-22")
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "risk.py")).run()
    at.number_input(key="risk.v0.max_weight_per_asset").set_value(0.2)
    at.text_area(key="risk.reason").set_value("tighten")
    at.button(key="FormSubmitter:risk.limits_form-Apply new limits").click().run()
    (change,) = risk_service.history()
    assert change.changed_by == "rita" and change.changes["max_weight_per_asset"] == (0.25, 0.2)
