"""``workbench``: the command line over the same services as the pages.

One module per feature (``app/cli/<feature>.py``); each registers its commands on the root
app of :mod:`app.cli._app` when imported. The root imports a feature module only when one
of its commands runs (or shows its own help): ``workbench --help`` reads the command list
from :data:`app.cli._index.COMMANDS`, which :func:`write_index` regenerates (a test checks
that it matches the feature modules).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
from pathlib import Path

import typer

from app.cli._app import app
from app.cli._common import EXIT_BAD_INPUT

FEATURES: tuple[str, ...] = (
    "data",
    "backtest",
    "universe",
    "sweep",
    "regime",
    "training",
    "registry",
    "predict",
    "walkforward",
    "abtest",
    "ensemble",
    "retrain",
    "paper",
    "risk",
    "alerts",
    "runs",
    "jobs",
    "auth",
    "api",
    "system",
)
"""The feature modules of ``app/cli``, in help order."""

__all__ = ["FEATURES", "app", "command_index", "load_all", "main", "write_index"]


def load_all() -> None:
    """Import every feature module, registering all commands (e.g. to walk the tree)."""
    for feature in FEATURES:
        importlib.import_module(f"app.cli.{feature}")


def command_index() -> dict[str, tuple[str, str]]:
    """Root command name -> (feature module, help text), in help order, read from the
    feature modules (what :data:`app.cli._index.COMMANDS` must hold).

    Run it in an interpreter that has imported no feature module yet: each command is
    attributed to the module whose import registered it.
    """
    import typer.main

    loaded = [f for f in FEATURES if f"app.cli.{f}" in sys.modules]
    if loaded:
        raise RuntimeError(f"command_index() needs a fresh interpreter; loaded: {loaded}")
    owner: dict[str, str] = {}
    for feature in FEATURES:
        importlib.import_module(f"app.cli.{feature}")
        for name in typer.main.get_group(app).commands:
            owner.setdefault(name, feature)
    commands = typer.main.get_group(app).commands
    # typer lists commands before sub-groups; the help keeps that order.
    names = [n for n, c in commands.items() if not isinstance(c, typer.core.TyperGroup)]
    names += [n for n, c in commands.items() if isinstance(c, typer.core.TyperGroup)]
    return {n: (owner[n], " ".join((commands[n].help or "").split())) for n in names}


def write_index(path: Path | None = None) -> Path:
    """Regenerate ``app/cli/_index.py`` from the feature modules (in a fresh interpreter,
    see :func:`command_index`); returns its path."""
    target = path or Path(__file__).with_name("_index.py")
    lines = []
    for name, (feature, text) in command_index().items():
        one = f"    {_q(name)}: ({_q(feature)}, {_q(text)}),"
        lines += (
            [one]
            if len(one) <= 100
            else [
                f"    {_q(name)}: (",
                f"        {_q(feature)},",
                f"        {_q(text)},",
                "    ),",
            ]
        )
    target.write_text(
        "# ruff: noqa: E501\n"
        '"""The root commands of ``workbench``: name -> (feature module, help text).\n\n'
        "Generated from the feature modules by :func:`app.cli.write_index`; do not edit.\n"
        'Regenerate with ``python -c "import app.cli; app.cli.write_index()"``\n'
        "(tests/app/test_cli_imports.py checks that it is current).\n"
        '"""\n\n'
        "COMMANDS: dict[str, tuple[str, str]] = {\n" + "\n".join(lines) + "\n}\n"
    )
    return target


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _is_workbench_process() -> bool:
    """True when this process is the ``workbench`` script or ``python -m app.cli``."""
    path = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return path.name == "workbench" or (path.name == "__main__.py" and path.parent.name == "cli")


_STATUS = [0]


def _status_of(code: object) -> int:
    """The process status of ``SystemExit(code)`` (None 0, an int itself, a message 1)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _end_without_teardown() -> None:
    """The last exit handler: flush and end the process with ``os._exit``.

    By then the interpreter has joined the non-daemon threads and run every other exit
    handler (registered later, so run earlier, logging's included); what is skipped is
    only the teardown of ~1,000 modules (pandas, SQLAlchemy), about 0.25 s of every
    command. Committed data is unaffected (SQLite may leave its WAL file for the next
    connection).
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(_STATUS[0])


def main() -> None:
    """Entry point of the ``workbench`` script.

    In the ``workbench`` process itself, the process ends without the interpreter's
    module teardown (:func:`_end_without_teardown`); called from other code (a test
    runner), it behaves like any function that raises ``SystemExit``.
    """
    if _is_workbench_process():
        atexit.register(_end_without_teardown)  # first registered, so run last
    try:
        app()
    except SystemExit as exc:
        _STATUS[0] = _status_of(exc.code)
        raise
    except Exception as exc:
        # Only a command that loaded data can raise it: look the class up instead of
        # importing the loaders (pandas) for every command.
        loaders = sys.modules.get("core.data.loaders")
        if loaders is None or not isinstance(exc, loaders.DataSourceError):
            _STATUS[0] = 1
            raise
        typer.echo(f"error: {exc}", err=True)
        _STATUS[0] = EXIT_BAD_INPUT
        sys.exit(EXIT_BAD_INPUT)
