"""Bearer-token authentication: the FastAPI dependency that gives a route its Actor.

Owner: API core. Until it lands, ``current_actor`` accepts any live personal access token.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.services.auth import Actor

_bearer = HTTPBearer(auto_error=False)


def current_actor(
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Actor:
    """The Actor of the request's bearer token; 401 when missing or not live."""
    from app.services.tokens import actor_from_token

    actor = actor_from_token(credentials.credentials) if credentials else None
    if actor is None:
        raise HTTPException(status_code=401, detail="a bearer token is required")
    return actor
