"""The roles of the workbench and the users configured in the secrets file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["analyst", "pm", "risk", "trader"]
ROLES: tuple[Role, ...] = ("analyst", "pm", "risk", "trader")


@dataclass(frozen=True)
class UserEntry:
    """One ``[workbench.users.<name>]`` table: a password hash and roles."""

    password_hash: str
    roles: frozenset[str]


def unknown_roles(roles: Iterable[str]) -> list[str]:
    """The names in ``roles`` that are not roles, sorted.

    >>> unknown_roles(["pm", "admin", "root"])
    ['admin', 'root']
    """
    return sorted(set(roles) - set(ROLES))


def parse_roles(raw: str) -> frozenset[str]:
    """Roles from a comma-separated list, e.g. ``analyst,pm``.

    >>> sorted(parse_roles("pm, analyst"))
    ['analyst', 'pm']
    """
    roles = frozenset(r.strip() for r in raw.split(",") if r.strip())
    unknown = unknown_roles(roles)
    if unknown:
        raise ValueError(f"WORKBENCH_ROLES has unknown roles {unknown}; use {list(ROLES)}")
    return roles


def configured_users(table: Mapping[str, Any]) -> dict[str, UserEntry]:
    """Users from the ``[workbench.users.<name>]`` tables of the secrets file."""
    users = (table.get("workbench") or {}).get("users") or {}
    out = {}
    for name, entry in users.items():
        roles = frozenset(entry.get("roles", []))
        unknown = unknown_roles(roles)
        if unknown:
            raise ValueError(f"secrets: user {name} has unknown roles {unknown}; use {ROLES}")
        if "password_hash" not in entry:
            raise ValueError(
                f"secrets: user {name} needs a password_hash (workbench hash-password)"
            )
        out[str(name)] = UserEntry(str(entry["password_hash"]), roles)
    return out


def oidc_roles(email: str, table: Mapping[str, Any]) -> frozenset[str]:
    """Roles of an OIDC user from ``[workbench.oidc_roles]`` (email, or ``*``, to roles)."""
    mapping = (table.get("workbench") or {}).get("oidc_roles") or {}
    return frozenset(mapping.get(email, mapping.get("*", ["analyst"]))) & set(ROLES)


def auth_mode(table: Mapping[str, Any]) -> str:
    """``"local"``, ``"password"`` or ``"oidc"``, from the secrets file's tables."""
    if table.get("auth", {}).get("client_id") or table.get("auth", {}).get("providers"):
        return "oidc"
    if (table.get("workbench") or {}).get("users"):
        return "password"
    return "local"


__all__ = [
    "ROLES",
    "Role",
    "UserEntry",
    "auth_mode",
    "configured_users",
    "oidc_roles",
    "parse_roles",
    "unknown_roles",
]
