"""CLI credentials when sign-in users are configured: no self-declared roles, tokens stored
hashed, passwords throttled, the audit names the authenticated user; local mode unchanged."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.services import risk as risk_service
from core.auth.passwords import hash_password
from core.config import get_settings
from tests.cli_helpers import run_cli

LIMITS = ("risk", "limits", "set", "max_weight_per_asset=0.2", "--reason", "tighten")


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
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
    for name in ("WORKBENCH_USER", "WORKBENCH_ROLES", "WORKBENCH_TOKEN", "WORKBENCH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    return {"WORKBENCH_SECRETS_FILE": str(path)}


def test_roles_are_not_self_declared_when_users_are_configured(
    users: dict[str, str], isolated_workbench: Path
) -> None:
    var = isolated_workbench
    # The old hole: ann (analyst) declares herself risk staff.
    out = run_cli(
        *LIMITS, var=var, env={"WORKBENCH_USER": "ann", "WORKBENCH_ROLES": "analyst,risk"}
    )
    assert out.returncode == 3, out.stdout + out.stderr
    assert "no password for ann" in out.stderr
    out = run_cli(
        *LIMITS,
        var=var,
        env={
            "WORKBENCH_USER": "ann",
            "WORKBENCH_PASSWORD": "analyst-pass-1",
            "WORKBENCH_ROLES": "analyst,risk",
        },
    )
    assert out.returncode == 3 and "WORKBENCH_ROLES asks for ['risk']" in out.stderr
    # The other hole: an empty user ran with every role.
    out = run_cli(*LIMITS, var=var, env={"WORKBENCH_USER": ""})
    assert out.returncode == 3 and "sign-in users are configured" in out.stderr
    out = run_cli(
        *LIMITS, var=var, env={"WORKBENCH_USER": "rita", "WORKBENCH_PASSWORD": "nope-nope"}
    )
    assert out.returncode == 3 and "wrong password" in out.stderr
    assert risk_service.current_limits()[0] == 0  # nothing changed
    out = run_cli(
        *LIMITS, var=var, env={"WORKBENCH_USER": "rita", "WORKBENCH_PASSWORD": "risk-pass-22"}
    )
    assert out.returncode == 0, out.stderr
    (change,) = risk_service.history()
    assert change.changed_by == "rita"  # the authenticated user


def test_personal_access_tokens_are_shown_once_stored_hashed_and_revocable(
    users: dict[str, str], isolated_workbench: Path
) -> None:
    var = isolated_workbench
    rita = {"WORKBENCH_USER": "rita", "WORKBENCH_PASSWORD": "risk-pass-22"}
    out = run_cli("token", "create", "--name", "ci", "--json", var=var, env=rita)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    token = created["token"]
    assert created["user"] == "rita" and token.startswith("wbt_")
    with sqlite3.connect(var / "workbench.db") as conn:
        dump = "\n".join(conn.iterdump())
    assert token not in dump and token.split(".")[0] not in dump  # only a hash is stored
    # The token alone signs rita in; the audit names her.
    with_token = {"WORKBENCH_TOKEN": token}
    out = run_cli(
        "alerts",
        "rule",
        "add",
        "dd",
        "--kind",
        "drawdown",
        "--threshold",
        "0.1",
        var=var,
        env=with_token,
    )
    assert out.returncode == 0, out.stderr
    out = run_cli("alerts", "audit", "--json", var=var, env=with_token)
    assert [(a["actor"], a["action"]) for a in json.loads(out.stdout)["audit"]] == [
        ("rita", "alerts.rule.save")
    ]
    out = run_cli("whoami", "--json", var=var, env=with_token)
    assert json.loads(out.stdout) == {"user": "rita", "roles": ["risk"], "mode": "password"}
    # Narrowing is allowed, adding a role is not.
    out = run_cli("whoami", var=var, env={**with_token, "WORKBENCH_ROLES": "risk,trader"})
    assert out.returncode == 3 and "asks for ['trader']" in out.stderr
    # A unit error is still a bad-input error (exit 2) naming the threshold's unit.
    out = run_cli(
        "alerts",
        "rule",
        "add",
        "dd",
        "--kind",
        "drawdown",
        "--threshold",
        "50",
        var=var,
        env=with_token,
    )
    assert out.returncode == 2 and "fraction of peak equity" in out.stderr
    listed = run_cli("token", "list", "--json", var=var, env=with_token)
    (row,) = json.loads(listed.stdout)["tokens"]
    assert row["status"] == "active" and token not in listed.stdout
    assert row["prefix"] == token[:12] + "…"
    out = run_cli("token", "revoke", str(row["id"]), var=var, env=with_token)
    assert out.returncode == 0, out.stderr
    out = run_cli("whoami", var=var, env=with_token)
    assert out.returncode == 3 and "not a valid token" in out.stderr
    forged = token[:-2] + "zz"
    out = run_cli("whoami", var=var, env={"WORKBENCH_TOKEN": forged})
    assert out.returncode == 3 and "not a valid token" in out.stderr


def test_cli_passwords_are_throttled_like_the_web_sign_in(
    users: dict[str, str], isolated_workbench: Path
) -> None:
    from app.services.db import get_engine
    from core.store.auth import AttemptRepository
    from core.store.db import session_scope

    out = run_cli(
        "whoami", var=isolated_workbench, env={"WORKBENCH_USER": "ann", "WORKBENCH_PASSWORD": "x"}
    )
    assert out.returncode == 3 and "wrong password" in out.stderr
    # Ten recent failures (a 15-minute window: no race with a slow machine) lock ann out,
    # even with the right password.
    now = datetime.now(UTC)
    with session_scope(get_engine()) as session:
        repo = AttemptRepository(session)
        for i in range(9):
            repo.record(
                username="ann", client="cli@elsewhere", ok=False, now=now - timedelta(seconds=i)
            )
    good = {"WORKBENCH_USER": "ann", "WORKBENCH_PASSWORD": "analyst-pass-1"}
    out = run_cli("whoami", var=isolated_workbench, env=good)
    assert out.returncode == 3
    assert "10 failed sign-ins for user ann: locked for 15 minutes; try again at" in out.stderr
    # rita, from the same machine, is not locked (fewer than 3 failures from this client).
    rita = {"WORKBENCH_USER": "rita", "WORKBENCH_PASSWORD": "risk-pass-22"}
    assert run_cli("whoami", var=isolated_workbench, env=rita).returncode == 0


def test_local_mode_is_unchanged_and_labelled(
    monkeypatch: pytest.MonkeyPatch, isolated_workbench: Path, tmp_path: Path
) -> None:
    env = {"WORKBENCH_SECRETS_FILE": str(tmp_path / "none.toml")}
    out = run_cli("whoami", "--json", var=isolated_workbench, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["mode"] == "local"
    assert "local mode (no sign-in users configured)" in out.stderr
    out = run_cli(
        "whoami",
        "--json",
        var=isolated_workbench,
        env={**env, "WORKBENCH_USER": "bob", "WORKBENCH_ROLES": "pm"},
    )
    assert json.loads(out.stdout) == {"user": "bob", "roles": ["pm"], "mode": "local"}
    out = run_cli("token", "create", "--name", "x", var=isolated_workbench, env=env)
    assert out.returncode == 2 and "local mode" in out.stderr
