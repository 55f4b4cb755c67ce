"""Who may do what with a job, and who the job acts as when it runs."""

from __future__ import annotations

from app.services.auth import (
    LOCAL,
    Actor,
    PermissionDenied,
    actor_from_env,
    auth_mode,
    users_and_roles,
)
from app.services.jobs_view import JobView
from core.auth.roles import Role

MANAGER_ROLE: Role = "pm"
"""Besides its owner, who may cancel or retry anyone's job."""


def may_manage(job: JobView, actor: Actor, action: str) -> None:
    """PermissionDenied unless ``actor`` owns ``job`` or holds :data:`MANAGER_ROLE`."""
    if actor.name != job.owner and not actor.has(MANAGER_ROLE):
        raise PermissionDenied(
            f"{action} job {job.id} needs its owner ({job.owner}) or the '{MANAGER_ROLE}' "
            f"role; {actor.name} has {sorted(actor.roles) or 'none'}"
        )


def owner_actor(owner: str) -> Actor:
    """The job owner's :class:`Actor` with the roles configured now.

    Signed-in mode: the user's roles from the secrets file (PermissionError if the user
    is no longer configured). Local mode: the local user, the ``WORKBENCH_USER`` of this
    worker, or else only the analyst role (roles are self-declared in local mode).
    """
    if auth_mode() == "local":
        if owner == LOCAL.name:
            return LOCAL
        env = actor_from_env()
        return env if env.name == owner else Actor(owner, frozenset({"analyst"}))
    users, oidc = users_and_roles()
    if owner in users:
        return Actor(owner, users[owner].roles)
    actor = oidc(owner)
    if actor is None:
        raise PermissionError(f"{owner} is no longer a configured user; the job cannot run")
    return actor


__all__ = ["MANAGER_ROLE", "may_manage", "owner_actor"]
