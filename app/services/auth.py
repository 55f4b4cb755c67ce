"""Users and roles. Role checks live here, in the services, not only in the UI.

With no users in the secrets file the workbench runs in a clearly labelled single-user
**local mode**: the local user holds every role, and ``WORKBENCH_USER`` and
``WORKBENCH_ROLES`` (comma separated: analyst, pm, risk, trader) may name a user for
batch jobs. As soon as the secrets file configures users (hashed passwords or OIDC),
roles come only from there: the app signs users in, and the CLI needs a token or a
password (:func:`app.services.tokens.cli_actor`). The rules (roles, password hashes,
users of the secrets file) are in :mod:`core.auth`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.operations.auth import PasswordHashRequest
from core.auth import roles as _roles
from core.auth.passwords import hash_password, verify_password
from core.auth.roles import ROLES, Role, UserEntry, configured_users, oidc_roles, parse_roles


class PermissionDenied(PermissionError):
    """The actor lacks the role an action needs."""


@dataclass(frozen=True)
class Actor:
    """Who is acting, with which roles."""

    name: str
    roles: frozenset[str]
    local_mode: bool = False
    via: str = ""
    """How the actor came in when not in person, e.g. ``"api token 7"`` (kept in the audit)."""

    def has(self, role: Role) -> bool:
        """Whether the actor holds ``role``."""
        return role in self.roles


LOCAL = Actor("local", frozenset(ROLES), local_mode=True)


def require(actor: Actor, role: Role, action: str) -> None:
    """Raise :class:`PermissionDenied` unless ``actor`` holds ``role``."""
    if not actor.has(role):
        raise PermissionDenied(
            f"{action} needs the '{role}' role; {actor.name} has {sorted(actor.roles) or 'none'}"
        )


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
    return _roles.auth_mode(secrets_table() if table is None else table)


def users_and_roles() -> tuple[dict[str, UserEntry], Callable[[str], Actor | None]]:
    """Configured password users, and a lookup of an OIDC user's roles (None if no OIDC)."""
    table = secrets_table()
    users = configured_users(table)

    def oidc(email: str) -> Actor | None:
        return oidc_actor(email, table) if auth_mode(table) == "oidc" else None

    return users, oidc


def authenticate(username: str, password: str, users: dict[str, UserEntry]) -> Actor:
    """Check a username and password against configured users."""
    entry = users.get(username)
    if entry is None or not verify_password(password, entry.password_hash):
        raise PermissionDenied("unknown user or wrong password")
    return Actor(username, entry.roles)


def oidc_actor(email: str, table: dict[str, Any]) -> Actor:
    """Roles of an OIDC-signed-in user from ``[workbench.oidc_roles]`` (email -> roles)."""
    return Actor(email, oidc_roles(email, table))


def password_hash(request: PasswordHashRequest) -> str:
    """The salted hash of ``request.password`` for ``[workbench.users.<name>]``."""
    return hash_password(request.password.get_secret_value())


__all__ = [
    "LOCAL",
    "Actor",
    "PermissionDenied",
    "actor_from_env",
    "auth_mode",
    "authenticate",
    "oidc_actor",
    "password_hash",
    "require",
    "secrets_table",
    "users_and_roles",
]
