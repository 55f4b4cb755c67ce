"""``workbench registry``: the model registry: list, promote, roll back.

Every command is generated from its operation in :mod:`app.operations.registry`
(registering is ``workbench train --register NAME``).
"""

from __future__ import annotations

import typer

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.registry import LIST, PROMOTE, ROLLBACK

registry_app = typer.Typer(help="Model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")

for _operation in (LIST, PROMOTE, ROLLBACK):
    add_command(registry_app, _operation)
