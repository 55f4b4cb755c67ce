"""Bearer tokens on the API: 401 without a live token (missing, forged, expired, revoked,
its user removed), roles narrowed to the configured ones, 403 from a service's own role
check, a per-token rate limit (429 + Retry-After), the last use stamped at most once a
minute, tokens only ever stored hashed, migration 0014 up and down (SQLite and PostgreSQL),
and one run against a real ``workbench api`` process.

Time is injected (``app.services.signin.use_clock`` for token expiry and the resolution
cache, a fake clock for the rate limiter): nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.ratelimit import RateLimiter
from app.services.signin import use_clock
from core.auth.passwords import hash_password
from core.config import get_settings
from tests.api.conftest import MakeToken
from tests.api.server import live_api
from tests.cli_helpers import run_cli

WHOAMI = "/api/v1/whoami"


class Clock:
    """A settable clock for ``use_clock``."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Iterator[Clock]:
    fake = Clock()
    with use_clock(fake):
        yield fake


def _refused(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized" and "workbench tokens create" in body["detail"]
    return str(body["detail"])


def test_missing_malformed_and_forged_tokens_get_401_json(
    client: TestClient, make_token: MakeToken
) -> None:
    from core.auth.tokens import PAT_PREFIX, new_token

    ann = make_token("ann", {"analyst"})
    assert "bearer token is required" in _refused(client.get(WHOAMI))
    assert "bearer token is required" in _refused(
        client.get(WHOAMI, headers={"Authorization": "Basic YW5uOng="})
    )
    other_key = new_token(PAT_PREFIX, b"another machine's key, 32 bytes!")
    for bad in ("nonsense", ann.token[:-2] + "zz", other_key, ann.token + "x"):
        assert "not valid" in _refused(
            client.get(WHOAMI, headers={"Authorization": f"Bearer {bad}"})
        )
    response = client.get(WHOAMI, headers=ann.headers)
    assert response.json() == {"user": "ann", "roles": ["analyst"], "via": ann.via}
    # The health probes need no token.
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "reason": None}


def test_expired_and_revoked_tokens_are_refused_within_the_cache_time(
    client: TestClient, make_token: MakeToken, clock: Clock, isolated_workbench: Path
) -> None:
    ann = make_token("ann", {"analyst"})
    assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    # Revoked by another process (the CLI): the API trusts its cached answer for
    # api_token_cache_s (5 s), then asks the database again.
    out = run_cli("tokens", "revoke", str(ann.id), var=isolated_workbench)
    assert out.returncode == 0, out.stderr
    clock.advance(4.9)
    assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    clock.advance(0.2)
    _refused(client.get(WHOAMI, headers=ann.headers))
    # Expiry needs no cache round: a token 90 days old is refused at once.
    bob = make_token("bob", {"pm"})
    assert client.get(WHOAMI, headers=bob.headers).status_code == 200
    clock.advance(90 * 86_400 + 1)
    _refused(client.get(WHOAMI, headers=bob.headers))


@pytest.fixture
def signed_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sign-in users configured: ann holds analyst and pm."""
    path = tmp_path / "secrets.toml"
    _users(path, {"ann": ["analyst", "pm"], "rita": ["risk"]})
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(path))
    get_settings.cache_clear()
    return path


def _users(path: Path, users: dict[str, list[str]]) -> None:
    digest = hash_password("a-long-password")
    path.write_text(
        "".join(
            f'[workbench.users.{name}]\npassword_hash = "{digest}"\nroles = {json.dumps(roles)}\n'
            for name, roles in users.items()
        )
    )


def test_signed_in_tokens_grant_at_most_the_users_roles_now(
    client: TestClient, make_token: MakeToken, clock: Clock, signed_in: Path
) -> None:
    from app.operations.auth import ApiTokenCreateRequest
    from app.services.api_tokens import provision_token
    from app.services.auth import Actor, PermissionDenied

    ann = Actor("ann", frozenset({"analyst", "pm"}))  # signed in with her password
    made = provision_token(ApiTokenCreateRequest(user="ann", roles="analyst,pm"), actor=ann)
    headers = {"Authorization": f"Bearer {made.token}"}
    assert client.get(WHOAMI, headers=headers).json()["roles"] == ["analyst", "pm"]
    with pytest.raises(PermissionDenied, match="only for yourself, not for rita"):
        provision_token(ApiTokenCreateRequest(user="rita", roles="risk"), actor=ann)
    with pytest.raises(PermissionDenied, match=r"does not hold \['risk'\]"):
        provision_token(ApiTokenCreateRequest(user="ann", roles="risk"), actor=ann)
    # ann loses pm in the secrets file: her token stops granting it after the cache time.
    _users(signed_in, {"ann": ["analyst"], "rita": ["risk"]})
    clock.advance(6)
    assert client.get(WHOAMI, headers=headers).json()["roles"] == ["analyst"]
    # ann is removed: 401.
    _users(signed_in, {"rita": ["risk"]})
    clock.advance(6)
    _refused(client.get(WHOAMI, headers=headers))


def test_a_services_role_check_gives_403_with_its_message(
    client: TestClient, make_token: MakeToken
) -> None:
    ann = make_token("ann", {"analyst"})
    body = {"values": {"max_weight_per_asset": 0.2}, "reason": "tighten", "expected_version": 0}
    response = client.put("/api/v1/risk/limits", headers=ann.headers, json=body)
    assert response.status_code == 403, response.text
    payload = response.json()
    assert payload["error"] == "forbidden"
    assert "needs the 'risk' role; ann has ['analyst']" in payload["detail"]
    rita = make_token("rita", {"risk"})
    assert client.put("/api/v1/risk/limits", headers=rita.headers, json=body).status_code == 200


def test_429_after_the_burst_with_retry_after(
    client: TestClient, make_token: MakeToken, monkeypatch: pytest.MonkeyPatch
) -> None:
    seconds = [1000.0]
    client.app.state.rate_limiter = RateLimiter(clock=lambda: seconds[0])  # type: ignore[attr-defined]
    ann = make_token("ann", {"analyst"}, rate_per_s=5)
    codes = [client.get(WHOAMI, headers=ann.headers).status_code for _ in range(10)]
    assert codes == [200] * 10  # a burst of 2 s worth
    response = client.get(WHOAMI, headers=ann.headers)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["error"] == "rate_limited" and body["retry_after_s"] == pytest.approx(0.2)
    assert "at most 5 per second" in body["detail"]
    bob = make_token("bob", {"analyst"}, rate_per_s=5)  # a bucket per token
    assert client.get(WHOAMI, headers=bob.headers).status_code == 200
    seconds[0] += 0.2
    assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    assert client.get(WHOAMI, headers=ann.headers).status_code == 429
    # A token without its own rate gets the setting api_rate_per_s.
    monkeypatch.setenv("WORKBENCH_API_RATE_PER_S", "1")
    get_settings.cache_clear()
    cy = make_token("cy", {"analyst"})
    codes = [client.get(WHOAMI, headers=cy.headers).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def _last_used(token_id: int) -> datetime | None:
    from app.services.db import get_engine
    from core.auth.tokens import aware_utc
    from core.store.auth import TokenRepository
    from core.store.db import session_scope

    with session_scope(get_engine()) as session:
        row = TokenRepository(session).get(token_id)
        assert row is not None
        return aware_utc(row.last_used_at) if row.last_used_at else None


def test_last_use_is_stamped_at_most_once_a_minute(
    client: TestClient, make_token: MakeToken, clock: Clock
) -> None:
    ann = make_token("ann", {"analyst"}, rate_per_s=1000)
    start = clock.at
    for _ in range(5):
        assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    assert _last_used(ann.id) == start
    clock.advance(30)
    for _ in range(5):
        assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    assert _last_used(ann.id) == start  # no write within the minute
    clock.advance(31)
    assert client.get(WHOAMI, headers=ann.headers).status_code == 200
    assert _last_used(ann.id) == start + timedelta(seconds=61)


def _stored_bytes(var: Path) -> bytes:
    """Every byte under the runtime folder: the database, its WAL and every log."""
    return b"".join(p.read_bytes() for p in sorted(var.rglob("*")) if p.is_file())


def test_a_real_api_process_serves_tokens_audits_and_stores_only_hashes(
    isolated_workbench: Path,
) -> None:
    var = isolated_workbench
    out = run_cli("tokens", "create", "--user", "rita", "--roles", "risk", "--json", var=var)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    token, headers = made["token"], {"Authorization": f"Bearer {made['token']}"}
    assert made["roles"] == ["risk"] and token.startswith("wbt_")
    with live_api(var) as api:
        assert httpx.get(f"{api.url}/readyz").json()["status"] == "ready"
        assert httpx.get(f"{api.url}{WHOAMI}").status_code == 401
        who = httpx.get(f"{api.url}{WHOAMI}", headers=headers).json()
        assert who == {"user": "rita", "roles": ["risk"], "via": f"api token {made['id']}"}
        rule = {"name": "dd", "kind": "drawdown", "threshold": 0.1}
        saved = httpx.post(f"{api.url}/api/v1/alerts/rules", headers=headers, json=rule)
        assert saved.status_code == 200, saved.text
    listed = run_cli("tokens", "list", "--json", var=var)
    (row,) = json.loads(listed.stdout)["tokens"]
    assert row["user"] == "rita" and row["last_used_at"] is not None
    from app.services.db import get_engine
    from core.store.auth import AuditRepository
    from core.store.db import session_scope

    with session_scope(get_engine()) as session:
        entries = [(e.actor, e.action, e.details) for e in AuditRepository(session).list()]
    assert ("rita", "alerts.rule.save") in [(a, b) for a, b, _ in entries]
    (details,) = [d for a, b, d in entries if b == "alerts.rule.save"]
    assert details["via"] == f"api token {made['id']}"
    # The token itself is nowhere at rest: not in the database nor in any log.
    stored = _stored_bytes(var)
    assert token.encode() not in stored and token.split(".")[0].encode() not in stored


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0014_adds_and_drops_the_token_grant(backend: str, tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import inspect, text

    from core.store.db import alembic_config, make_engine
    from tests.pg import fresh_pg_database

    def run(url: str) -> None:
        engine = make_engine(url)
        cfg = alembic_config(url)
        try:
            command.upgrade(cfg, "0013")
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO auth_tokens (kind, username, name, token_hash, prefix, "
                        "created_at, expires_at) VALUES ('pat', 'ann', 'old', 'h', 'p', "
                        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            command.upgrade(cfg, "0014")
            columns = {c["name"] for c in inspect(engine).get_columns("auth_tokens")}
            assert {"roles", "rate_per_s"} <= columns
            with engine.connect() as conn:
                row = conn.execute(text("SELECT username, roles, rate_per_s FROM auth_tokens"))
                assert row.one() == ("ann", None, None)  # an old token keeps its behaviour
            command.downgrade(cfg, "0013")
            columns = {c["name"] for c in inspect(engine).get_columns("auth_tokens")}
            assert not {"roles", "rate_per_s"} & columns and "token_hash" in columns
            command.upgrade(cfg, "heads")
        finally:
            engine.dispose()

    if backend == "sqlite":
        run(f"sqlite:///{tmp_path / 'm.db'}")
    else:
        with fresh_pg_database() as url:
            run(url)


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """A fake OIDC provider's signing key and JWKS (real RSA keys and signatures)."""

    def __init__(self, kid: str = "k1") -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, object]:
        numbers = self.key.public_key().public_numbers()

        def encode(n: int) -> str:
            return _b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        jwk = {"kty": "RSA", "kid": self.kid, "n": encode(numbers.n), "e": encode(numbers.e)}
        return {"keys": [jwk]}

    def token(self, claims: dict[str, object], *, alg: str = "RS256") -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = _b64(json.dumps({"alg": alg, "kid": self.kid, "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = self.key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{body}.{_b64(signature)}"


def test_oidc_bearer_tokens_are_accepted_when_configured(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    provider, stranger = Provider(), Provider()
    claims: dict[str, object] = {
        "iss": "https://login.example.com/",
        "aud": ["workbench-api", "other"],
        "email": "ann@example.com",
        "exp": clock.at.timestamp() + 300,
    }
    token = provider.token(claims)
    headers = {"Authorization": f"Bearer {token}"}
    _refused(client.get(WHOAMI, headers=headers))  # OIDC not configured: refused
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(provider.jwks()))
    secrets = tmp_path / "oidc.toml"
    secrets.write_text(
        "[workbench.oidc]\n"
        'issuer = "https://login.example.com/"\n'
        'audience = "workbench-api"\n'
        f'jwks_file = "{jwks}"\n'
        "[workbench.oidc_roles]\n"
        '"ann@example.com" = ["pm", "risk"]\n'
    )
    monkeypatch.setenv("WORKBENCH_SECRETS_FILE", str(secrets))
    get_settings.cache_clear()
    who = client.get(WHOAMI, headers=headers).json()
    assert who == {"user": "ann@example.com", "roles": ["pm", "risk"], "via": "oidc token"}
    for bad in (
        stranger.token(claims),  # signed by another key
        provider.token({**claims, "iss": "https://evil.example.com/"}),
        provider.token({**claims, "aud": "someone-else"}),
        provider.token({k: v for k, v in claims.items() if k != "exp"}),
        provider.token(claims, alg="HS256"),
        token.rsplit(".", 1)[0] + ".",  # no signature
    ):
        _refused(client.get(WHOAMI, headers={"Authorization": f"Bearer {bad}"}))
    clock.advance(300 + 61)  # past the expiry and the 60 s leeway
    _refused(client.get(WHOAMI, headers=headers))


def test_readyz_is_503_with_the_reason_when_the_database_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.api.app import create_app

    # Nothing listens on port 1: the connection is refused at once.
    monkeypatch.setenv("WORKBENCH_DB_URL", "postgresql+psycopg://wb:secret-pw@127.0.0.1:1/wb")
    get_settings.cache_clear()
    client = TestClient(create_app())
    assert client.get("/healthz").json() == {"status": "ok"}  # liveness needs no database
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready" and "not reachable" in body["reason"]
    assert "secret-pw" not in response.text  # never the database URL's password
