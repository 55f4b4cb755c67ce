"""``workbench setup`` and ``workbench bench`` (generated from app/operations/system.py)."""

from __future__ import annotations

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.system import BENCH, SETUP

add_command(app, BENCH)
add_command(app, SETUP)
