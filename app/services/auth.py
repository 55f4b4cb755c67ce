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
