"""``workbench universe``: one strategy backtested on every symbol of a dataset."""

from __future__ import annotations

from typing import Any

from app.cli._app import app
from app.cli._common import _strategy_params
from app.cli._generate import add_command
from app.operations.universe import UNIVERSE


def _params(raw: Any, values: dict[str, Any], as_json: bool) -> dict[str, Any]:
    return _strategy_params(values.get("strategy"), list(raw or []), as_json)


add_command(app, UNIVERSE, converters={"params": _params})
