"""``workbench abtest``: A/B comparisons of strategies or saved runs."""

from __future__ import annotations

import inspect
from typing import Any

from app.cli import options as opt
from app.cli._app import app
from app.cli._generate import add_command, extra_option
from app.operations.abtest import ABTEST


def _arm(flag: str, help_text: str, *, many: bool = False) -> inspect.Parameter:
    annotation = list[str] if many else str
    default: Any = [] if many else ...
    return extra_option(
        flag.removeprefix("--"), annotation, default, flag, help=help_text, parser=opt.text()
    )


def _arms(_raw: Any, values: dict[str, Any], _as_json: bool) -> list[str]:
    return [values["a"], values["b"], *values.get("arm", [])]


add_command(
    app,
    ABTEST,
    extra=[
        _arm("--a", "Arm A: strategy[:k=v,...], run:<id> or model:<version id>."),
        _arm("--b", "Arm B: strategy[:k=v,...], run:<id> or model:<version id>."),
        _arm("--arm", "More arms (repeatable).", many=True),
    ],
    converters={"arms": _arms},
)
