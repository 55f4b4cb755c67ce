"""The FastAPI application factory."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.paths import API_PREFIX
from app.api.routes import ROUTERS

__all__ = ["API_PREFIX", "create_app"]


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    """Open and migrate the database before the first request is accepted (a worker never
    starts cold, and its first requests do not race to migrate)."""
    from app.services.db import get_engine

    get_engine()
    yield


def create_app() -> FastAPI:
    """The workbench API: the routers of :data:`ROUTERS`, error handlers and metrics."""
    api = FastAPI(
        title="Trading Research Workbench API",
        version="1",
        description="REST over the workbench's services: same roles, same audit trail.",
        lifespan=_lifespan,
    )
    from app.api import errors, metrics
    from app.api.ratelimit import RateLimiter

    api.state.rate_limiter = RateLimiter()
    errors.install(api)
    metrics.install(api)
    for name in ROUTERS:
        module = importlib.import_module(f"app.api.routes.{name}")
        api.include_router(module.router)
    return api
