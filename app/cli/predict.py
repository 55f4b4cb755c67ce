"""``workbench predict``: batch prediction with a registered model."""

from __future__ import annotations

from typing import Any

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.predict import PREDICT


def _out(raw: Any, _values: dict[str, Any], _as_json: bool) -> str | None:
    """``--out`` names a file to write (it need not exist; the request checks its suffix)."""
    return None if raw in (None, "") else str(raw)


add_command(app, PREDICT, converters={"out": _out})
