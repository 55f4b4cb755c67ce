"""API routers, one module per feature; each module exposes ``router`` (an APIRouter)."""

ROUTERS: tuple[str, ...] = (
    "system",
    "data",
    "backtest",
    "jobs",
    "regimes",
    "models",
    "predictions",
    "risk",
    "paper",
    "alerts",
)
"""Modules of ``app.api.routes`` whose ``router`` :func:`app.api.app.create_app` includes."""
