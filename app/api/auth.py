"""Bearer-token authentication: the FastAPI dependency that gives a route its Actor.

Every ``/api/v1`` route depends on :func:`current_actor`: a personal access token
(``workbench tokens create``) in ``Authorization: Bearer ...``, resolved by
:func:`app.services.api_tokens.resolve` (cached, see there), or an OIDC access token (a
JWT, when ``[workbench.oidc]`` is configured: :mod:`app.services.api_oidc`), then its rate limit
(:mod:`app.api.ratelimit`, 429). The Actor carries ``via="api token N"`` into the audit.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import RateLimited
from app.api.ratelimit import RateLimiter
from app.services.auth import Actor

_bearer = HTTPBearer(
    auto_error=False,
    description="A personal access token from `workbench tokens create` (wbt_...).",
)


def limiter_of(request: Request) -> RateLimiter:
    """The app's rate limiter (one per process; made on first use)."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        limiter = request.app.state.rate_limiter = RateLimiter()
    return limiter  # type: ignore[no-any-return]


async def current_actor(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Actor:
    """The Actor of the request's bearer token; 401 when missing or not live, 429 over
    the token's rate.

    A coroutine, so that a request does not hop to the thread pool just to be
    authenticated: a personal access token is resolved in the event loop (from the
    in-process cache; the database only once per ``api_token_cache_s`` and token), an
    OIDC token in the thread pool (a key fetch may wait on the network)."""
    from app.services.api_oidc import resolve_oidc
    from app.services.api_tokens import resolve
    from core.auth.jwt import looks_like_jwt

    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail="a bearer token is required: send 'Authorization: Bearer <token>' "
            "(make one with `workbench tokens create`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    grant = (
        await run_in_threadpool(resolve_oidc, token) if looks_like_jwt(token) else resolve(token)
    )
    if grant is None:
        raise HTTPException(
            status_code=401,
            detail="the bearer token is not valid (unknown, expired, revoked, or its user "
            "was removed; an OIDC token: wrong issuer, audience or signature, or OIDC not "
            "configured); make a new one with `workbench tokens create`",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    key = f"{grant.actor.via} {grant.actor.name}"
    wait = limiter_of(request).wait_s(key, rate_per_s=grant.rate_per_s)
    if wait > 0:
        raise RateLimited(
            f"too many requests for {grant.actor.via} (at most "
            f"{grant.rate_per_s:g} per second); retry in {wait:.2f} s",
            retry_after_s=wait,
        )
    request.state.actor = grant.actor
    return grant.actor
