"""`workbench alerts ...`, `token revoke` and `hash-password`: the commands generated from
app/operations/alerts.py and auth.py keep their flags, outputs and exit codes.

In-process (typer's CliRunner, whose stdin is not a terminal), local mode, one fresh
WORKBENCH_VAR_DIR per test; what a command stored is read back through the services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.services import alerts
from core.auth.passwords import verify_password

RUNNER = CliRunner()
DEAD_URL = "json://127.0.0.1:1/x"  # nothing listens on port 1: delivery fails at once


def cli(*args: str, input: str | None = None) -> Any:
    return RUNNER.invoke(app, list(args), input=input)


def as_json(*args: str) -> Any:
    result = cli(*args, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_alerts_test_history_and_audit(isolated_workbench: Path) -> None:
    code, sent = as_json("alerts", "test")
    assert code == 0 and sent["status"] == "sent" and sent["channels"] == ["in-app"]
    assert sent["message"] == "[info] test alert from the workbench via in-app (sent by local)"
    # --url adds the channel first; a failed delivery prints its result and exits 1.
    failed = cli("alerts", "test", "--channel", "hook", "--url", DEAD_URL)
    assert failed.exit_code == 1
    assert "failed: [info] test alert from the workbench via hook (sent by local)" in failed.stdout
    assert "  error: channel hook: delivery to json://127.0.0.1:1/**** failed" in failed.stdout
    assert failed.stderr.count("note: local mode") == 1  # one sign-in for both steps
    assert [c["name"] for c in alerts.list_channels()] == ["hook"]
    # A URL apprise refuses: exit 2 before any sign-in, nothing stored.
    code, bad = as_json("alerts", "test", "--channel", "hook2", "--url", "nonsense://abc")
    refusal = "Apprise URL: nonsense://**** is not a notification"
    assert code == 2 and bad["error"].startswith(refusal)
    assert bad["error"].endswith("(--url).")  # the page's sentence, then the CLI's flag
    assert [c["name"] for c in alerts.list_channels()] == ["hook"]
    code, ghost = as_json("alerts", "test", "--channel", "ghost")
    assert code == 2 and ghost == {
        "error": "no alert channel named 'ghost'; add it first or use in-app"
    }
    code, history = as_json("alerts", "history", "--limit", "1")
    assert code == 0 and [(e["kind"], e["status"]) for e in history["events"]] == [
        ("test", "failed")
    ]
    assert len(as_json("alerts", "history")[1]["events"]) == 2
    text = cli("alerts", "history", "--limit", "2").stdout.splitlines()
    assert [line.split()[1] for line in text] == ["failed", "sent"]
    code, audit = as_json("alerts", "audit", "--limit", "5")
    assert code == 0 and [(a["action"], a["target"]) for a in audit["audit"]] == [
        ("alerts.channel.save", "hook")
    ]
    bad_limit = cli("alerts", "history", "--limit", "0")
    assert bad_limit.exit_code == 2 and "--limit" in bad_limit.output


def test_enable_disable_and_confirmed_delete(isolated_workbench: Path) -> None:
    assert cli("alerts", "channel", "add", "hook", "--url", DEAD_URL).exit_code == 0
    added = cli("alerts", "rule", "add", "dd", "--kind", "drawdown", "--threshold", "0.1",
                "--channel", "hook")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert as_json("alerts", "rule", "disable", "dd") == (0, {"rule": "dd", "enabled": False})
    assert [r.enabled for r in alerts.list_rules()] == [False]
    enabled = cli("alerts", "rule", "enable", "dd")
    assert enabled.exit_code == 0 and enabled.stdout == "rule dd enabled\n"
    assert [r.enabled for r in alerts.list_rules()] == [True]
    assert as_json("alerts", "channel", "disable", "hook") == (
        0,
        {"channel": "hook", "enabled": False},
    )
    assert cli("alerts", "channel", "enable", "hook").stdout == "channel hook enabled\n"
    assert [c["enabled"] for c in alerts.list_channels()] == [True]
    ghost = as_json("alerts", "rule", "enable", "ghost")
    assert ghost == (2, {"error": "no alert rule named 'ghost'; see `workbench alerts list`"})
    bad_name = cli("alerts", "channel", "disable", "bad name")
    assert bad_name.exit_code == 2 and "'bad name' is not valid" in bad_name.output
    # Deletes need --yes off a terminal, refused before any sign-in or change.
    unconfirmed = cli("alerts", "channel", "delete", "hook")
    assert unconfirmed.exit_code == 2
    assert unconfirmed.stderr == "error: deleting channel hook needs confirmation: add --yes\n"
    code, used = as_json("alerts", "channel", "delete", "hook", "--yes")
    assert code == 2 and "used by rule(s) ['dd']" in used["error"]
    assert as_json("alerts", "rule", "delete", "dd", "--yes") == (0, {"deleted": "dd"})
    deleted = cli("alerts", "channel", "delete", "hook", "--yes")
    assert deleted.exit_code == 0 and deleted.stdout == "channel hook deleted\n"
    assert alerts.list_rules() == [] and alerts.list_channels() == []
    actions = [a["action"] for a in alerts.audit()]
    assert actions == [
        "alerts.channel.delete",
        "alerts.rule.delete",
        "alerts.channel.enable",
        "alerts.channel.disable",
        "alerts.rule.enable",
        "alerts.rule.disable",
        "alerts.rule.save",
        "alerts.channel.save",
    ]


def test_a_role_the_user_lacks_exits_3(
    isolated_workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("alerts", "channel", "add", "hook", "--url", DEAD_URL).exit_code == 0
    monkeypatch.setenv("WORKBENCH_USER", "ann")
    monkeypatch.setenv("WORKBENCH_ROLES", "analyst")
    for args in (
        ("alerts", "channel", "disable", "hook"),
        ("alerts", "channel", "delete", "hook", "--yes"),
        ("alerts", "test", "--channel", "hook"),
    ):
        result = cli(*args)
        assert result.exit_code == 3, (args, result.output)
        assert "role; ann has ['analyst']" in result.stderr
    assert [c["enabled"] for c in alerts.list_channels()] == [True]
    assert alerts.history() == []


def test_token_revoke_and_hash_password(isolated_workbench: Path) -> None:
    missing = as_json("token", "revoke", "1")
    assert missing == (2, {"error": "you have no token with id 1; see `workbench token list`"})
    assert cli("token", "revoke", "0").exit_code == 2
    # Asked twice, hidden; a mismatch asks again.
    prompted = cli("hash-password", input="first-password\nother-password\nright-one\nright-one\n")
    assert prompted.exit_code == 0, prompted.output
    assert "The two entered values do not match" in prompted.output
    digest = prompted.stdout.strip().splitlines()[-1]
    assert verify_password("right-one", digest) and not verify_password("first-password", digest)
    assert "right-one" not in prompted.stdout
    code, payload = as_json("hash-password", "--password", "long-enough")
    assert code == 0 and verify_password("long-enough", payload["hash"])
    short = cli("hash-password", "--password", "short")
    assert short.exit_code == 2 and "use at least 8 characters" in short.stderr


def test_rule_add_accepts_the_old_kind_names() -> None:
    out = cli("alerts", "rule", "add", "lost", "--kind", "heartbeat_lost", "--threshold", "60")
    assert out.exit_code == 0, out.output
    assert alerts.list_rules()[0].kind == "heartbeat"
