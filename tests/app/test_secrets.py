"""Channel credentials at rest: canary secrets never appear in the database, var/, logs,
CLI output, reports or pages; the key's sources; migration of clear rows."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import stat
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from pydantic import ValidationError
from streamlit.testing.v1 import AppTest

from app.operations.alerts import AlertTestRequest
from app.services import alerts
from app.services.auth import PermissionDenied
from core.alerts import AlertRuleSpec, ChannelSpec, Snapshot
from core.config import SecretKeyError, get_settings
from tests.app.test_alerts_delivery import T0, webhook  # noqa: F401  (fixture)
from tests.app.test_postgres import ADMIN_URL, pg_url  # noqa: F401  (fixture)
from tests.cli_helpers import ROOT, run_cli
from tests.pages.helpers import MAIN

pg_only = pytest.mark.skipif(not ADMIN_URL, reason="no PostgreSQL (WORKBENCH_TEST_PG_URL)")


def _canary(n: int = 24) -> str:
    """A unique random string (lowercase letters and digits, as every scheme accepts)."""
    alphabet = string.ascii_lowercase + string.digits
    return "q" + "".join(secrets.choice(alphabet) for _ in range(n - 1))


def _channel_urls(port: int) -> tuple[dict[str, str], list[str]]:
    c = {k: _canary() for k in "abcdefghijklmn"}
    pover_user, pover_token = _canary(30), _canary(30)
    urls = {
        "pushbullet": f"pbul://{c['a']}",
        "hook": f"json://user{c['b']}:{c['c']}@127.0.0.1:{port}/{c['d']}"
        f"?pass={c['e']}&+X-Token={c['f']}",
        "telegram": f"tgram://123456789:{c['g']}/987654321",
        "pushover": f"pover://{pover_user}@{pover_token}",
        "mail": f"mailto://user:{c['h']}@example.com:1?smtp=127.0.0.1&to=ops@example.com",
        "slack": f"slack://T{c['i'][:8].upper()}/B{c['j'][:8].upper()}/{c['k']}",
        "ntfy": f"ntfy://{c['l']}",
        "closed": f"xml://me:{c['m']}@127.0.0.1:1/{c['n']}",
    }
    canaries = [*c.values(), pover_user, pover_token, c["i"][:8].upper(), c["j"][:8].upper()]
    return urls, canaries


def _all_text(node: Any) -> str:
    parts = [str(getattr(node, "proto", ""))]
    for child in getattr(node, "children", {}).values():
        parts.append(_all_text(child))
    return "\n".join(parts)


def _leaks(text: str, canaries: list[str]) -> list[str]:
    return [c for c in canaries if c in text]


def test_canary_secrets_appear_nowhere(
    webhook,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
    isolated_workbench: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    urls, canaries = _channel_urls(webhook.port)
    for name, url in urls.items():
        if name != "ntfy":
            alerts.save_channel(ChannelSpec(name=name, url=url))
    # One through the CLI, the URL piped on stdin (the prompt hides it).
    env = {"WORKBENCH_DB_URL": get_settings().database_url}
    added = subprocess.run(
        [sys.executable, "-m", "app.cli", "alerts", "channel", "add", "ntfy", "--json"],
        input=urls["ntfy"] + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "WORKBENCH_VAR_DIR": str(isolated_workbench)},
        timeout=180,
    )
    assert added.returncode == 0, added.stderr
    assert '"url": "ntfy://****"' in added.stdout
    assert _leaks(added.stdout + added.stderr, canaries) == []
    # A URL apprise refuses: the error names it masked.
    bogus = _canary()
    with pytest.raises(ValidationError) as info:
        ChannelSpec(name="bogus", url=f"nonsense://{bogus}")
    assert bogus not in str(info.value)
    canaries.append(bogus)
    # Deliveries: the live webhook (works), an SMTP and an XML endpoint that refuse.
    assert alerts.send_test(AlertTestRequest(channel="hook"))["status"] == "sent"
    assert alerts.send_test(AlertTestRequest(channel="mail"))["status"] == "failed"
    failed = alerts.send_test(AlertTestRequest(channel="closed"))
    assert failed["status"] == "failed" and "xml://****@127.0.0.1:1/****" in failed["errors"][0]
    alerts.save_rule(
        AlertRuleSpec(
            name="dd", kind="drawdown", threshold=0.1, channels=["hook", "closed"], cooldown_s=0
        )
    )
    assert [r["status"] for r in alerts.evaluate(Snapshot(ts=T0, drawdown=0.2))] == ["sent"]
    # The secrets were usable: the webhook got the basic-auth user and the custom header.
    assert len(webhook.received) == 2
    # 1. The database: every row of every table.
    db = get_settings().database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert _leaks(dump, canaries) == []
    assert "url_ciphertext" in dump and "gAAAAA" in dump  # Fernet tokens are stored
    # 2. Every file under var/ (database, WAL, key file, imports, reports).
    for path in isolated_workbench.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_bytes().decode("latin-1"), canaries) == [], path
    # 3. Logs (apprise and urllib3 log URLs at DEBUG; they are scrubbed).
    assert any(r.name == "apprise" for r in caplog.records)
    assert _leaks(caplog.text, canaries) == []
    # 4. Service listings, history, audit and CLI output.
    listed = str(alerts.list_channels()) + str(alerts.history()) + str(alerts.audit())
    assert _leaks(listed, canaries) == []
    assert {c["name"]: c["url"] for c in alerts.list_channels()}["pushover"] == "pover://****@****"
    for args in (("alerts", "list"), ("alerts", "history"), ("alerts", "audit")):
        out = run_cli(*args, "--json", var=isolated_workbench, env=env)
        assert out.returncode == 0, out.stderr
        assert _leaks(out.stdout + out.stderr, canaries) == []
    # 5. The Alerts page.
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    at.switch_page(str(Path(MAIN).parents[1] / "pages" / "alerts.py")).run()
    assert not at.exception
    shown = _all_text(at.main) + _all_text(at.sidebar)
    assert "pbul://****" in shown and _leaks(shown, canaries) == []
    # 6. A spec never prints its URL.
    spec = ChannelSpec(name="x", url=urls["telegram"])
    assert _leaks(repr(spec) + str(spec.model_dump()) + spec.model_dump_json(), canaries) == []


def test_setup_creates_a_private_key_file_once(isolated_workbench: Path) -> None:
    key_file = isolated_workbench / "secret.key"
    # The key is made before, and apart from, the Regimes page's default fit: not fitted here.
    out = run_cli("setup", "--no-warm", "--no-regimes", "--json", var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"{key_file} (created)" in out.stdout
    key = key_file.read_bytes()
    again = run_cli("setup", "--no-warm", "--no-regimes", "--json", var=isolated_workbench)
    assert again.returncode == 0 and "(created)" not in again.stdout
    assert key_file.read_bytes() == key  # never replaced


def test_the_environment_key_wins_and_a_wrong_key_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, isolated_workbench: Path
) -> None:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("WORKBENCH_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    url = f"json://u:{_canary()}@127.0.0.1:1/x"
    alerts.save_channel(ChannelSpec(name="hook", url=url))
    assert not (isolated_workbench / "secret.key").exists()
    # Another key: listing still works (masked), delivery explains what is wrong.
    monkeypatch.setenv("WORKBENCH_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    assert alerts.list_channels()[0]["url"] == "json://****@127.0.0.1:1/****"
    result = alerts.send_test(AlertTestRequest(channel="hook"))
    assert result["status"] == "failed"
    assert "cannot be decrypted with the key from WORKBENCH_SECRET_KEY" in result["errors"][0]
    # A malformed key names where it came from and how to make one.
    monkeypatch.setenv("WORKBENCH_SECRET_KEY", "not-a-key")
    get_settings.cache_clear()
    with pytest.raises(SecretKeyError, match="WORKBENCH_SECRET_KEY is not a Fernet key"):
        alerts.save_channel(ChannelSpec(name="hook2", url=url))
    out = run_cli(
        "alerts",
        "channel",
        "add",
        "hook3",
        "--url",
        url,
        var=isolated_workbench,
        env={"WORKBENCH_SECRET_KEY": "not-a-key"},
    )
    assert out.returncode == 2 and "not a Fernet key" in out.stderr
    assert "Traceback" not in out.stderr


def test_migration_encrypts_existing_clear_rows(isolated_workbench: Path) -> None:
    from core.alerts.stored import StoredAlerts
    from core.store.db import alembic_config, make_engine, session_scope, upgrade

    secret = _canary()
    url = f"pbul://{secret}"
    db = isolated_workbench / "old.db"
    engine = make_engine(f"sqlite:///{db}")
    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    with sqlite3.connect(db) as conn:  # how 0004 stored channels: in clear
        conn.execute(
            "INSERT INTO alert_channels (name, url, enabled, created_at) "
            "VALUES ('push', ?, 1, '2026-01-01 00:00:00')",
            (url,),
        )
    upgrade(engine)
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert secret not in dump
    with session_scope(engine) as session:
        stored = StoredAlerts(session)
        assert stored.repo.channel_list() == [
            {"name": "push", "url": "pbul://****", "enabled": True}
        ]
        assert stored.channel("push").url.get_secret_value() == url  # type: ignore[union-attr]


@pg_only
def test_secrets_and_sign_in_on_postgres(pg_url: str) -> None:  # noqa: F811
    from sqlalchemy import MetaData, create_engine, select

    from app.services import signin, tokens
    from app.services.auth import Actor
    from core.store.db import alembic_config, upgrade

    secret = _canary()
    url = f"pbul://{secret}"
    engine = create_engine(pg_url)
    cfg = alembic_config(pg_url)
    with engine.begin() as conn:  # a database saved by 0004, a channel in clear
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.exec_driver_sql(
            "INSERT INTO alert_channels (name, url, enabled, created_at) "
            f"VALUES ('push', '{url}', true, now())"
        )
    upgrade(engine)
    alerts.save_channel(ChannelSpec(name="hook", url=f"json://u:{secret}x@127.0.0.1:1/x"))
    rita = Actor("rita", frozenset({"risk"}))
    _, token = signin.issue_token(rita, kind="pat", name="ci", lifetime=timedelta(days=1))
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        text_dump = "\n".join(
            str(row) for table in meta.sorted_tables for row in conn.execute(select(table))
        )
    assert secret not in text_dump and token.split(".")[0] not in text_dump
    assert {c["name"]: c["url"] for c in alerts.list_channels()} == {
        "hook": "json://****@127.0.0.1:1/****",
        "push": "pbul://****",
    }
    # Throttling reads back time-zone-aware timestamps on PostgreSQL too.
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with signin.use_clock(lambda: t0):
        for _ in range(3):
            with pytest.raises(PermissionDenied):
                signin.sign_in("nobody", "wrong-password", client="web:pg")
        with pytest.raises(signin.SignInThrottled, match="try again at 09:00:01 UTC"):
            signin.sign_in("nobody", "wrong-password", client="web:pg")
    assert tokens.actor_from_token(token) is None  # rita is not a configured user
    engine.dispose()
