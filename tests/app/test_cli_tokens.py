"""``workbench tokens create|list|revoke``: API tokens with their own roles and rate.

Local mode: the operator on this machine provisions any user with any roles. Signed-in
mode: the acting user (by password) may make tokens only for themselves, with roles they
hold; a token cannot make tokens. ``workbench token ...`` keeps working beside it.
In-process (typer's CliRunner, stdin not a terminal), one fresh WORKBENCH_VAR_DIR per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from core.auth.passwords import hash_password
from core.config import get_settings

RUNNER = CliRunner()
ENV_NAMES = ("WORKBENCH_USER", "WORKBENCH_ROLES", "WORKBENCH_TOKEN", "WORKBENCH_PASSWORD")


def cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return RUNNER.invoke(app, list(args), env=env)


def as_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    result = cli(*args, "--json", env=env)
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(tmp_path / "none.toml"))
    get_settings.cache_clear()


def test_local_mode_provisions_any_user_lists_and_revokes(isolated_workbench: Path) -> None:
    code, made = as_json("tokens", "create", "--user", "ann", "--roles", "pm,analyst")
    assert code == 0 and made["user"] == "ann" and made["roles"] == ["analyst", "pm"]
    assert made["token"].startswith("wbt_")
    code, other = as_json(
        "tokens", "create", "--user", "bot", "--roles", "trader", "--name", "ci", "--days", "7"
    )
    assert code == 0
    code, rate = as_json(
        "tokens", "create", "--user", "bot", "--roles", "risk", "--rate-per-s", "5"
    )
    assert code == 0
    code, listed = as_json("tokens", "list")
    rows = {r["id"]: r for r in listed["tokens"]}
    assert sorted(rows) == sorted([made["id"], other["id"], rate["id"]])
    assert rows[made["id"]]["roles"] == ["analyst", "pm"] and rows[made["id"]]["user"] == "ann"
    assert rows[other["id"]]["name"] == "ci" and rows[rate["id"]]["rate_per_s"] == 5.0
    assert rows[made["id"]]["rate_per_s"] is None  # the setting api_rate_per_s
    assert all(r["status"] == "active" for r in rows.values())
    # Shown once: never in a listing, never stored in clear.
    text = json.dumps(listed)
    assert made["token"] not in text and made["token"].split(".")[0] not in text
    database = (isolated_workbench / "workbench.db").read_bytes()
    assert made["token"].split(".")[0].encode() not in database
    code, only_bot = as_json("tokens", "list", "--user", "bot")
    assert {r["user"] for r in only_bot["tokens"]} == {"bot"} and len(only_bot["tokens"]) == 2
    code, revoked = as_json("tokens", "revoke", str(made["id"]))
    assert code == 0 and revoked == {"revoked": made["id"]}
    code, listed = as_json("tokens", "list", "--user", "ann")
    assert [r["status"] for r in listed["tokens"]] == ["revoked"]
    human = cli("tokens", "create", "--user", "cy", "--roles", "analyst")
    assert human.exit_code == 0 and "shown once" in human.stdout
    assert "Authorization: Bearer" in human.stdout


def test_bad_values_are_refused_with_plain_messages(isolated_workbench: Path) -> None:
    result = cli("tokens", "create", "--user", "ann", "--roles", "analyst,boss")
    assert result.exit_code == 2
    assert "unknown ['boss']; give one or more of analyst, pm, risk, trader" in result.stderr
    result = cli("tokens", "create", "--user", "a b", "--roles", "analyst")
    assert result.exit_code == 2 and "letters, digits and _ . @ + - only" in result.stderr
    result = cli("tokens", "create", "--user", "ann", "--roles", "pm", "--rate-per-s", "0")
    assert result.exit_code == 2 and "--rate-per-s" in result.stderr
    code, missing = as_json("tokens", "revoke", "99")
    assert code == 2 and "no token with id 99" in missing["error"]
    code, listed = as_json("tokens", "list")
    assert listed == {"tokens": []}


@pytest.fixture
def signed_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(
        "[workbench.users.ann]\n"
        f'password_hash = "{hash_password("analyst-pass-1")}"\n'
        'roles = ["analyst", "pm"]\n'
        "[workbench.users.rita]\n"
        f'password_hash = "{hash_password("risk-pass-22")}"\n'
        'roles = ["risk"]\n'
    )
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(path))
    get_settings.cache_clear()


ANN = {"WORKBENCH_USER": "ann", "WORKBENCH_PASSWORD": "analyst-pass-1"}


def test_signed_in_users_make_tokens_only_for_themselves_with_their_roles(
    signed_in: None, isolated_workbench: Path
) -> None:
    code, made = as_json("tokens", "create", "--user", "ann", "--roles", "analyst", env=ANN)
    assert code == 0 and made["roles"] == ["analyst"]
    result = cli("tokens", "create", "--user", "rita", "--roles", "risk", env=ANN)
    assert result.exit_code == 3
    assert "you may make tokens only for yourself, not for rita" in result.stderr
    result = cli("tokens", "create", "--user", "ann", "--roles", "risk", env=ANN)
    assert result.exit_code == 3 and "ann does not hold ['risk']" in result.stderr
    # A token cannot make tokens (a stolen one cannot mint more): a password is needed.
    with_token = {"WORKBENCH_TOKEN": made["token"]}
    result = cli("tokens", "create", "--user", "ann", "--roles", "analyst", env=with_token)
    assert result.exit_code == 3 and "needs your password, not a token" in result.stderr
    # Listing: your own only.
    code, listed = as_json("tokens", "list", env=with_token)
    assert [r["id"] for r in listed["tokens"]] == [made["id"]]
    result = cli("tokens", "list", "--user", "rita", env=with_token)
    assert result.exit_code == 3 and "only your own tokens" in result.stderr
    # rita cannot revoke ann's token; ann can.
    rita = {"WORKBENCH_USER": "rita", "WORKBENCH_PASSWORD": "risk-pass-22"}
    code, refused = as_json("tokens", "revoke", str(made["id"]), env=rita)
    assert code == 2 and "no token with id" in refused["error"]
    code, revoked = as_json("tokens", "revoke", str(made["id"]), env=ANN)
    assert code == 0 and revoked == {"revoked": made["id"]}


def test_the_token_group_keeps_working_and_shares_the_tokens(
    signed_in: None, isolated_workbench: Path
) -> None:
    code, cli_token = as_json("token", "create", "--name", "laptop", env=ANN)
    assert code == 0 and cli_token["user"] == "ann"
    code, api_token = as_json("tokens", "create", "--user", "ann", "--roles", "pm", env=ANN)
    assert code == 0
    code, listed = as_json("token", "list", env={"WORKBENCH_TOKEN": cli_token["token"]})
    assert {r["id"] for r in listed["tokens"]} == {cli_token["id"], api_token["id"]}
    # The API token used by the CLI acts with its own roles only.
    code, who = as_json("whoami", env={"WORKBENCH_TOKEN": api_token["token"]})
    assert code == 0 and who["roles"] == ["pm"]
    code, who = as_json("whoami", env={"WORKBENCH_TOKEN": cli_token["token"]})
    assert who["roles"] == ["analyst", "pm"]
    code, revoked = as_json("token", "revoke", str(api_token["id"]), env=ANN)
    assert code == 0 and revoked == {"revoked": api_token["id"]}
