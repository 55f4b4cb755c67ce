"""50 concurrent clients against ONE real ``workbench api`` process (2 uvicorn workers) on
ONE SQLite database: nothing lost, no 5xx, never "database is locked".

Each client has its own token (its own user, so the audit can tell them apart) and, all
at once: reads the risk limits and changes them with ``expected_version`` (twice), saves an
alert rule with a unique name, submits a report job and reads it back. Then the database
is read through the services: every 2xx write is there exactly once, every 409 left
nothing, and the limits' versions advance by one per winner, and the audit names each client.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from tests.api.conftest import ApiToken, MakeToken
from tests.api.server import live_api

CLIENTS = 50
ROUNDS = 2
"""Optimistic-lock rounds per client: read the version, write with it."""


async def _client(url: str, token: ApiToken, index: int) -> dict[str, Any]:
    """One client's session; every response's status (and the bodies the checks need)."""
    out: dict[str, Any] = {"user": token.user, "statuses": [], "limits": []}
    async with httpx.AsyncClient(base_url=url, headers=token.headers, timeout=60) as http:

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await http.request(method, path, **kwargs)
            out["statuses"].append((method, path, response.status_code, response.text[:300]))
            return response

        for round_ in range(ROUNDS):
            current = await call("GET", "/api/v1/risk/limits")
            version = current.json()["version"] if current.status_code == 200 else None
            value = 10_000 + 100 * index + round_  # unique per client and round
            change = await call(
                "PUT",
                "/api/v1/risk/limits",
                json={
                    "values": {"max_order_notional": value},
                    "reason": f"client {index} round {round_}",
                    "expected_version": version,
                },
            )
            json_body = change.headers.get("content-type", "").startswith("application/json")
            body = change.json() if json_body else {}
            out["limits"].append((change.status_code, value, version, body))
        rule = {"name": f"conc_{index}", "kind": "drawdown", "threshold": 0.05 + index / 1000}
        saved = await call("POST", "/api/v1/alerts/rules", json={**rule, "channels": ["ops"]})
        out["rule"] = saved.status_code
        job = await call("POST", "/api/v1/jobs/report", json={})
        out["job"] = job.json().get("job_id") if job.status_code == 202 else None
        if out["job"] is not None:
            await call("GET", f"/api/v1/jobs/{out['job']}")
        await call("GET", "/api/v1/alerts/rules")
    return out


def _audit_rows(action: str) -> list[Any]:
    from app.services.db import get_engine
    from core.store.auth import AuditRepository
    from core.store.db import session_scope

    with session_scope(get_engine()) as session:
        rows = AuditRepository(session).list(limit=10_000, prefix=action)
        session.expunge_all()
        return rows


async def _all_clients(url: str, tokens: list[ApiToken]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_client(url, t, i) for i, t in enumerate(tokens))))


def test_fifty_clients_one_sqlite_database_nothing_lost(
    isolated_workbench: Path, make_token: MakeToken
) -> None:
    from app.operations.alerts import ChannelRequest
    from app.operations.risk import LimitsChangeRequest
    from app.services import alerts, risk
    from app.services.jobs import list_jobs

    alerts.add_channel(ChannelRequest(name="ops", url="json://u:ops-secret@127.0.0.1:1/hook"))
    risk.set_limits(LimitsChangeRequest(values={"max_order_notional": 9_000}, reason="start"))
    tokens = [make_token(f"client{i}", {"risk", "analyst"}) for i in range(CLIENTS)]

    with live_api(isolated_workbench, workers=2) as api:
        results = asyncio.run(_all_clients(api.url, tokens))
    logs = [api.log, isolated_workbench / "logs" / "api.log"]
    log_text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())

    server_errors = [s for r in results for s in r["statuses"] if s[2] >= 500]
    assert not server_errors, f"{server_errors[:10]}\nAPI log:\n{log_text[-6000:]}"
    failed_reads = [s for r in results for s in r["statuses"] if s[0] == "GET" and s[2] != 200]
    assert not failed_reads, failed_reads[:10]
    assert "database is locked" not in log_text, log_text[-3000:]

    # risk limits: each write won (200, one new version) or lost (409, nothing stored)
    attempts = [(r["user"], *a) for r in results for a in r["limits"]]
    unexpected = [a for a in attempts if a[1] not in (200, 409)]
    assert not unexpected, unexpected[:10]
    winners = [a for a in attempts if a[1] == 200]
    assert winners, "no limits change won"
    history = risk.history()  # newest first; version 1 is the start above
    assert [h.version for h in history] == list(range(1 + len(winners), 0, -1))
    assert risk.current_limits()[0] == 1 + len(winners)
    stored = {h.limits["max_order_notional"]: h for h in history[:-1]}
    assert len(stored) == len(winners)  # every winner's value once, no loser's value
    for user, _status, value, read_version, body in winners:
        assert value in stored, f"{user}'s accepted change {value} is not stored"
        version = stored[value]
        assert version.changed_by == user
        assert body.get("version") == version.version
        assert version.version == read_version + 1  # expected_version was the one before
    losers = [a for a in attempts if a[1] == 409]
    assert not {a[2] for a in losers} & set(stored)
    assert all(a[4].get("error") == "conflict" for a in losers), losers[:3]

    # alert rules: unique names, all 50 stored once
    assert all(200 <= r["rule"] < 300 for r in results), [r["rule"] for r in results]
    names = [rule.name for rule in alerts.list_rules()]
    assert sorted(n for n in names if n.startswith("conc_")) == sorted(
        f"conc_{i}" for i in range(CLIENTS)
    )

    audited = [e for e in _audit_rows("alerts.rule.save") if e.target.startswith("conc_")]
    assert sorted((e.actor, e.target) for e in audited) == sorted(
        (f"client{i}", f"conc_{i}") for i in range(CLIENTS)
    )
    by_user = {t.user: t for t in tokens}
    assert all(e.details["via"] == by_user[e.actor].via for e in audited)

    # jobs: 50 accepted, 50 queued rows, each its client's
    job_ids = [r["job"] for r in results]
    assert None not in job_ids and len(set(job_ids)) == CLIENTS
    jobs = {job.id: job for job in list_jobs(limit=1000)}
    assert set(job_ids) <= set(jobs)
    assert len(jobs) == CLIENTS
    for result in results:
        assert jobs[result["job"]].owner == result["user"]
