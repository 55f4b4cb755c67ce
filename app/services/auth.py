"""Users and roles. Role checks live here, in the services, not only in the UI.

By default the workbench runs in a clearly labelled single-user local mode where the
local user holds every role. Set ``WORKBENCH_USER`` and ``WORKBENCH_ROLES`` (comma
separated: analyst, pm, risk, trader) to act as a specific user, e.g. in batch jobs; the
Streamlit app can also sign users in against hashed passwords in secrets (see README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

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


def actor_from_env() -> Actor:
    """The acting user from the environment, or the local single user."""
    name = os.environ.get("WORKBENCH_USER")
    if not name:
        return LOCAL
    raw = os.environ.get("WORKBENCH_ROLES", "analyst")
    roles = frozenset(r.strip() for r in raw.split(",") if r.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise ValueError(f"WORKBENCH_ROLES has unknown roles {unknown}; use {list(ROLES)}")
    return Actor(name, roles)


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
