"""``workbench api``: serve the REST API (FastAPI under uvicorn)."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app


@app.command("api")
def api(
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to listen on (0.0.0.0: every interface).",
        parser=opt.host(),
    ),
    port: int = typer.Option(
        8000, "--port", help="Port to listen on.", parser=opt.number(1, 65535, integer=True)
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        help="Worker processes (each its own token cache and rate limiter).",
        parser=opt.number(1, 32, integer=True),
    ),
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs); make tokens with
    ``workbench tokens create``."""
    import uvicorn

    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
