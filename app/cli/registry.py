"""``workbench registry``: list, register, promote, roll back, retain, live tests, promotions.

Every command is generated from its operation in :mod:`app.operations.registry`
(``workbench train --register NAME`` registers right after training).
"""

from __future__ import annotations

import typer

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.registry import (
    APPROVE,
    LIST,
    PROMOTE,
    PROMOTIONS,
    REGISTER,
    REJECT,
    RETAIN,
    ROLLBACK,
    TESTS,
)

registry_app = typer.Typer(
    help="Model registry: list, register, promote, roll back, retention, live tests.",
    no_args_is_help=True,
)
app.add_typer(registry_app, name="registry")

for _operation in (LIST, REGISTER, PROMOTE, ROLLBACK, RETAIN, TESTS, PROMOTIONS, APPROVE, REJECT):
    add_command(registry_app, _operation)
