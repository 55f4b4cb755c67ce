"""Users and roles. Role checks live here, in the services, not only in the UI.

With no users in the secrets file the workbench runs in a clearly labelled single-user
**local mode**: the local user holds every role, and ``WORKBENCH_USER`` and
``WORKBENCH_ROLES`` (comma separated: analyst, pm, risk, trader) may name a user for
batch jobs. As soon as the secrets file configures users (hashed passwords or OIDC),
roles come only from there: the app signs users in, and the CLI needs a token or a
password (:func:`app.services.tokens.cli_actor`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["analyst", "pm", "risk", "trader"]
ROLES: tuple[Role, ...] = ("analyst", "pm", "risk", "trader")


class PermissionDenied(PermissionError):
    """The actor lacks the role an action needs."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, with which roles."""

    name: str
    roles: frozenset[str]
    local_mode: bool = False

    def has(self, role: Role) -> bool:
        """Whether the actor holds ``role``."""
        return role in self.roles


LOCAL = Actor("local", frozenset(ROLES), local_mode=True)


def parse_roles(raw: str) -> frozenset[str]:
    """Roles from a comma-separated list, e.g. ``analyst,pm``."""
    roles = frozenset(r.strip() for r in raw.split(",") if r.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise ValueError(f"WORKBENCH_ROLES has unknown roles {unknown}; use {list(ROLES)}")
    return roles


def actor_from_env() -> Actor:
    """Local mode only: the user named by the environment, or the local single user.

    The roles are self-declared, which is why this applies only when no sign-in users
    are configured.
    """
    name = os.environ.get("WORKBENCH_USER")
    if not name:
        return LOCAL
    return Actor(name, parse_roles(os.environ.get("WORKBENCH_ROLES", "analyst")))


def secrets_table() -> dict[str, Any]:
    """The parsed secrets file (empty when there is none)."""
    from core.config import get_settings

    path = get_settings().secrets_file
    if not path.is_file():
        return {}
    with path.open("rb") as handle:
        return tomllib.load(handle)


def auth_mode(table: dict[str, Any] | None = None) -> str:
    """``"local"``, ``"password"`` or ``"oidc"`` from the secrets file."""
    table = secrets_table() if table is None else table
    if table.get("auth", {}).get("client_id") or table.get("auth", {}).get("providers"):
        return "oidc"
    if (table.get("workbench") or {}).get("users"):
        return "password"
    return "local"


def users_and_roles() -> tuple[dict[str, dict], Callable[[str], Actor | None]]:  # type: ignore[type-arg]
    """Configured password users, and a lookup of an OIDC user's roles (None if no OIDC)."""
    table = secrets_table()
    users = configured_users(table)

    def oidc(email: str) -> Actor | None:
        return oidc_actor(email, table) if auth_mode(table) == "oidc" else None

    return users, oidc


def require(actor: Actor, role: Role, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``role``."""
    if not actor.has(role):
        raise PermissionDenied(
            f"{action} needs the '{role}' role; {actor.name} has {sorted(actor.roles) or 'none'}"
        )


PBKDF2_ITERATIONS = 240_000


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """PBKDF2-SHA256 hash for ``secrets.toml`` (``pbkdf2_sha256$iterations$salt$hash``)."""
    import base64
    import hashlib
    import secrets as _secrets

    if len(password) < 8:
        raise ValueError("password: use at least 8 characters")
    salt = salt or _secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    import base64
    import hashlib
    import hmac

    try:
        scheme, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    computed = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(computed, base64.b64decode(digest))


def configured_users(table: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    """Users from the ``[workbench.users.<name>]`` tables of the secrets file."""
    users = (table.get("workbench") or {}).get("users") or {}
    out = {}
    for name, entry in users.items():
        roles = frozenset(entry.get("roles", []))
        unknown = sorted(roles - set(ROLES))
        if unknown:
            raise ValueError(f"secrets: user {name} has unknown roles {unknown}; use {ROLES}")
        if "password_hash" not in entry:
            raise ValueError(
                f"secrets: user {name} needs a password_hash (workbench hash-password)"
            )
        out[name] = {"password_hash": entry["password_hash"], "roles": roles}
    return out


def authenticate(username: str, password: str, users: dict[str, dict]) -> Actor:  # type: ignore[type-arg]
    """Check a username and password against configured users."""
    entry = users.get(username)
    if entry is None or not verify_password(password, entry["password_hash"]):
        raise PermissionDenied("unknown user or wrong password")
    return Actor(username, frozenset(entry["roles"]))


def oidc_actor(email: str, table: dict) -> Actor:  # type: ignore[type-arg]
    """Roles of an OIDC-signed-in user from ``[workbench.oidc_roles]`` (email -> roles)."""
    mapping = (table.get("workbench") or {}).get("oidc_roles") or {}
    roles = frozenset(mapping.get(email, mapping.get("*", ["analyst"])))
    return Actor(email, roles & set(ROLES))
