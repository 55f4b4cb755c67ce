"""Prometheus metrics of the API: request latency and status, and the ``/metrics`` route.

Owner: metrics. Stub until it lands.
"""

from __future__ import annotations

from fastapi import FastAPI


def install(api: FastAPI) -> None:
    """Add the request-metrics middleware and ``GET /metrics`` to ``api``."""
