"""Exception handlers: JSON bodies for 401/403/404/409/422/429, an error id for a 500.

Owner: API core. Stub until it lands.
"""

from __future__ import annotations

from fastapi import FastAPI


def install(api: FastAPI) -> None:
    """Register the workbench's exception handlers on ``api``."""
