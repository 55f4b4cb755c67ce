"""Alert service on a real SQLite database and a real webhook receiver on 127.0.0.1.

Roles (a viewer changes nothing), the audit entry with its actor, rules added, listed and
disabled, and a test send that actually arrives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from sqlalchemy import text

from app.operations.alerts import AlertNameRequest, AlertTestRequest
from app.services import alerts
from app.services.auth import LOCAL, Actor
from app.services.db import get_engine
from core.alerts import AlertRuleSpec, ChannelSpec, Snapshot

T0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
RITA = Actor("rita", frozenset({"risk", "trader"}))
VIEWER = Actor("vic", frozenset({"analyst"}))


@dataclass
class Inbox:
    """What the local receiver got: one (path, JSON body) per POST."""

    url: str
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            box.posts.append((self.path, json.loads(body or b"{}")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.url = f"json://127.0.0.1:{server.server_address[1]}/hook"
    yield box
    server.shutdown()
    server.server_close()


def _sql(query: str) -> list[tuple]:
    with get_engine().connect() as conn:
        return [tuple(row) for row in conn.execute(text(query))]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _audit_rows() -> list[tuple[str, list[str], bool, str, str, dict[str, Any]]]:
    """The audit table as stored (read with SQL, not through the service under test)."""
    query = "SELECT actor, roles, local_mode, action, target, details FROM audit_log ORDER BY id"
    return [(a, _json(r), bool(m), act, t, _json(d)) for a, r, m, act, t, d in _sql(query)]


def test_a_rule_is_added_listed_disabled_and_audited_with_its_actor(inbox: Inbox) -> None:
    alerts.save_channel(ChannelSpec(name="hook", url=inbox.url), actor=RITA)
    rule = AlertRuleSpec(
        name="dd10", kind="drawdown", threshold=0.1, channels=["hook"], severity="critical",
        cooldown_s=0,
    )  # fmt: skip
    alerts.save_rule(rule, actor=RITA)

    (listed,) = alerts.list_rules()
    assert (listed.name, listed.kind, listed.threshold, listed.channels) == (
        "dd10", "drawdown", 0.1, ["hook"],
    )  # fmt: skip
    assert (listed.severity, listed.cooldown_s, listed.enabled, listed.problem) == (
        "critical", 0, True, None,
    )  # fmt: skip

    # Enabled: a 12% drawdown fires and reaches the receiver.
    assert [r["status"] for r in alerts.evaluate(Snapshot(ts=T0, drawdown=0.12))] == ["sent"]
    assert len(inbox.posts) == 1 and "drawdown 12.0% >= 10.0%" in inbox.posts[0][1]["message"]

    alerts.disable_rule(AlertNameRequest(name="dd10"), actor=RITA)
    (listed,) = alerts.list_rules()
    assert listed.enabled is False
    later = Snapshot(ts=T0 + timedelta(hours=1), drawdown=0.5)
    assert alerts.evaluate(later) == [] and len(inbox.posts) == 1

    # Every change is audited with who made it, their roles and what changed.
    rows = _audit_rows()
    assert [(a, r, m, act, t) for a, r, m, act, t, _ in rows] == [
        ("rita", ["risk", "trader"], False, "alerts.channel.save", "hook"),
        ("rita", ["risk", "trader"], False, "alerts.rule.save", "dd10"),
        ("rita", ["risk", "trader"], False, "alerts.rule.disable", "dd10"),
    ]
    assert rows[1][5]["rule"]["threshold"] == 0.1 and rows[1][5]["rule"]["channels"] == ["hook"]
    # The audit keeps the masked URL only, and the service's own audit view agrees.
    port = inbox.url.split(":")[2].split("/")[0]
    assert rows[0][5] == {"url": f"json://127.0.0.1:{port}/****"}
    assert [(a["actor"], a["action"], a["target"]) for a in alerts.audit()] == [
        ("rita", "alerts.rule.disable", "dd10"),
        ("rita", "alerts.rule.save", "dd10"),
        ("rita", "alerts.channel.save", "hook"),
    ]


def test_a_test_send_arrives_at_the_webhook_and_is_recorded(inbox: Inbox) -> None:
    alerts.save_channel(ChannelSpec(name="hook", url=inbox.url), actor=RITA)
    result = alerts.send_test(AlertTestRequest(channel="hook"), actor=RITA)
    assert (result["status"], result["rule"]) == ("sent", "test")

    ((path, body),) = inbox.posts
    assert path == "/hook"
    assert body["title"] == "Workbench alert: test"
    assert body["message"] == "[info] test alert from the workbench via hook (sent by rita)"
    assert body["type"] == "info"
    (event,) = alerts.history()
    assert (event["rule"], event["kind"], event["severity"], event["status"]) == (
        "test", "test", "info", "sent",
    )  # fmt: skip
    assert event["channels"] == ["hook"] and event["errors"] == []
    # The URL is stored encrypted: the database holds no copy of it in clear.
    ((stored, ciphertext),) = _sql("SELECT url, url_ciphertext FROM alert_channels")
    assert inbox.url not in stored and ciphertext and inbox.url not in str(ciphertext)


def _changes(inbox: Inbox) -> dict[str, Callable[[Actor], object]]:
    rule = AlertRuleSpec(name="other", kind="broker_disconnect")
    return {
        "save_rule": lambda a: alerts.save_rule(rule, actor=a),
        "disable_rule": lambda a: alerts.disable_rule(AlertNameRequest(name="dd"), actor=a),
        "delete_rule": lambda a: alerts.delete_rule(AlertNameRequest(name="dd"), actor=a),
        "save_channel": lambda a: alerts.save_channel(
            ChannelSpec(name="hook", url=inbox.url + "2"), actor=a
        ),
        "disable_channel": lambda a: alerts.disable_channel(AlertNameRequest(name="hook"), actor=a),
        "delete_channel": lambda a: alerts.delete_channel(AlertNameRequest(name="hook"), actor=a),
        "send_test": lambda a: alerts.send_test(AlertTestRequest(channel="hook"), actor=a),
    }


def test_a_viewer_changes_nothing_sends_nothing_and_leaves_no_audit(inbox: Inbox) -> None:
    alerts.save_channel(ChannelSpec(name="hook", url=inbox.url), actor=RITA)
    alerts.save_rule(
        AlertRuleSpec(name="dd", kind="drawdown", threshold=0.1, channels=["hook"]), actor=RITA
    )
    before = (alerts.list_rules(), alerts.list_channels(), _audit_rows())
    nobody = Actor("nobody", frozenset())
    for name, change in _changes(inbox).items():
        for actor in (VIEWER, nobody):
            with pytest.raises(
                PermissionError, match=rf"needs the '(risk|trader)' role; {actor.name}"
            ):
                change(actor)
            assert (alerts.list_rules(), alerts.list_channels(), _audit_rows()) == before, name
    assert inbox.posts == [] and alerts.history() == []
    # The trader may send a test but not edit rules; the risk role edits but cannot send.
    trader, risk = Actor("tom", frozenset({"trader"})), Actor("rosa", frozenset({"risk"}))
    assert (
        alerts.send_test(AlertTestRequest(channel="hook"), actor=trader)["status"] == "sent"
        and len(inbox.posts) == 1
    )
    with pytest.raises(PermissionError, match="'risk' role; tom has \\['trader'\\]"):
        alerts.disable_rule(AlertNameRequest(name="dd"), actor=trader)
    with pytest.raises(PermissionError, match="'trader' role; rosa has \\['risk'\\]"):
        alerts.send_test(AlertTestRequest(channel="hook"), actor=risk)


def test_local_mode_is_labelled_in_the_audit() -> None:
    alerts.save_rule(AlertRuleSpec(name="disc", kind="broker_disconnect"))  # LOCAL by default
    ((actor, roles, local_mode, action, target, _),) = _audit_rows()
    assert (actor, roles, local_mode, action, target) == (
        "local", sorted(LOCAL.roles), True, "alerts.rule.save", "disc",
    )  # fmt: skip
    assert alerts.audit()[0]["actor"] == "local (local mode)"


def test_unknown_names_are_lookup_errors_and_write_nothing() -> None:
    for change, message in (
        (
            lambda: alerts.disable_rule(AlertNameRequest(name="ghost")),
            "no alert rule named 'ghost'",
        ),
        (lambda: alerts.delete_rule(AlertNameRequest(name="ghost")), "no alert rule named 'ghost'"),
        (
            lambda: alerts.enable_channel(AlertNameRequest(name="ghost")),
            "no alert channel named 'ghost'",
        ),
        (
            lambda: alerts.delete_channel(AlertNameRequest(name="ghost")),
            "no alert channel named 'ghost'",
        ),
        (
            lambda: alerts.send_test(AlertTestRequest(channel="ghost")),
            "no alert channel named 'ghost'",
        ),
    ):
        with pytest.raises(LookupError, match=message):
            change()
    with pytest.raises(ValueError, match="in-app is the built-in channel"):
        alerts.save_channel(ChannelSpec(name="in-app", url="in-app"))
    assert _audit_rows() == [] and alerts.history() == []
