"""Prometheus metrics of the API: request latency and status, and ``GET /metrics``.

Every request is counted by method, route template (``/api/v1/jobs/{job_id}``, never
the raw path; ``unmatched`` for a path no route serves) and status code, and timed
(:class:`core.monitoring.prom.ApiMetrics`). The middleware is plain ASGI (no
per-request task or body copy).

Several uvicorn workers (``workbench api --workers N``): each process counts its own
requests, so a scrape would see one of them. Set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder (wiped before each start) for every worker: then ``/metrics`` sums the
processes (prometheus_client's multiprocess mode). docs/metrics.md has the details.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.monitoring.prom import ApiMetrics

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods counted by name; any other is counted as ``other`` (the label stays bounded)."""


class RequestMetrics:
    """ASGI middleware recording every HTTP request in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app is answered 500 outside this layer

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            method = method if method in METHODS else "other"
            self.metrics.observe(method, template, status, time.perf_counter() - started)


def _exposition(registry: CollectorRegistry) -> bytes:
    """The text to serve: this process's registry, or every process's under
    ``PROMETHEUS_MULTIPROC_DIR``."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(registry)


def install(api: FastAPI) -> None:
    """Add the request-metrics middleware and ``GET /metrics`` to ``api``."""
    registry = CollectorRegistry()
    metrics = ApiMetrics(registry)
    api.state.metrics = metrics
    api.add_middleware(RequestMetrics, metrics=metrics)

    @api.get(
        "/metrics",
        tags=["monitoring"],
        summary="Prometheus metrics",
        description="The API's request counts and latencies in the Prometheus text format "
        "(no token needed; docs/metrics.md lists every metric).",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Metrics."}},
    )
    def prometheus_metrics() -> Response:
        return Response(_exposition(registry), media_type=CONTENT_TYPE_LATEST)
