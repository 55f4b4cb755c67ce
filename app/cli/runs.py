"""``workbench runs``: saved runs (generated from app/operations/runs.py)."""

from __future__ import annotations

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.runs import RUNS

add_command(app, RUNS)
