"""The root ``workbench`` Typer app; feature modules register their commands on it.

The root group is lazy: ``workbench --help`` lists the commands from
:data:`app.cli._index.COMMANDS` (names, help texts and the feature module of each) without
importing a feature, and ``workbench data list`` imports only ``app.cli.data``, so a
command pays for pydantic, pandas or SQLAlchemy only when it uses them.
"""

from __future__ import annotations

import importlib
from difflib import get_close_matches

import typer
import typer.core
import typer.main
from typer._click import Command, Context, HelpFormatter
from typer._click.exceptions import UsageError
from typer._click.utils import make_default_short_help

from app.cli._index import COMMANDS


class LazyRootGroup(typer.core.TyperGroup):
    """The root group: each command is built when it is first looked up."""

    def list_commands(self, ctx: Context) -> list[str]:
        """Every command, in help order (loaded or not)."""
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command ``cmd_name``, importing its feature module on first use."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"app.cli.{COMMANDS[cmd_name][0]}")
            self.commands.update(typer.main.get_group(app).commands)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The command list from the index: no feature module is imported for it."""
        rows: list[tuple[str, str]] = [(name, text) for name, (_, text) in COMMANDS.items()]
        rows += [
            (name, cmd.help or "")
            for name, cmd in self.commands.items()
            if name not in COMMANDS and not cmd.hidden
        ]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, make_default_short_help(t, limit)) for n, t in rows])

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """As typer's, with "Did you mean" suggestions from every command."""
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if self.suggest_commands and matches:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


app = typer.Typer(
    cls=LazyRootGroup,
    help="Trading Research Workbench command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain click help and errors: rich's formatting costs 0.15-0.3 s on every `--help`
    # and every refused value (the sub-apps inherit this from the root).
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """The root group (a callback keeps it a group before any feature is imported)."""
