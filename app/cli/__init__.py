"""``workbench``: the command line over the same services as the pages.

One module per feature (``app/cli/<feature>.py``); each registers its commands on the root
app of :mod:`app.cli._app` when imported here, in the order ``workbench --help`` lists them.
"""

from __future__ import annotations

import importlib
import sys

import typer

from app.cli._app import app
from app.cli._common import EXIT_BAD_INPUT

FEATURES: tuple[str, ...] = (
    "data",
    "backtest",
    "sweep",
    "regime",
    "training",
    "registry",
    "walkforward",
    "abtest",
    "ensemble",
    "retrain",
    "paper",
    "risk",
    "alerts",
    "runs",
    "auth",
    "system",
)
"""The feature modules of ``app/cli``, in help order."""

for _feature in FEATURES:
    importlib.import_module(f"app.cli.{_feature}")

__all__ = ["FEATURES", "app", "main"]


def main() -> None:
    """Entry point of the ``workbench`` script."""
    from app.services import data as data_service

    try:
        app()
    except data_service.DataSourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
