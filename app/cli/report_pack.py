"""``workbench report pack``: the PM's report pack, and its schedules
(``workbench report pack schedule set|list|remove``), generated from
app/operations/report_pack.py.

``workbench report`` stays the tear-sheet command: :func:`install` gives it the
sub-command ``pack`` (``workbench report pack ...`` runs the pack, anything else the
tear sheet, as before), and ``pack`` itself has the sub-command ``schedule``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer
import typer.core
import typer.main
from typer._click import Command, Context

from app.cli._generate import add_command, extra_option
from app.operations import report_pack as ops


class WithSubcommands(typer.core.TyperGroup):
    """A command that also has sub-commands: ``NAME SUB ...`` runs sub-command ``SUB``,
    anything else (options, arguments, ``--help``) runs the command itself."""

    def __init__(self, *, default: Command, commands: Mapping[str, Command]) -> None:
        names = ", ".join(f"`{default.name} {n}`" for n in commands)
        epilog = f"Sub-commands: {names} (see their --help)."
        super().__init__(name=default.name, commands=dict(commands), help=default.help)
        default.epilog = epilog if not default.epilog else f"{default.epilog}\n\n{epilog}"
        self.default = default

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        """The sub-command's group context when ``args`` start with one; else the
        command's own."""
        if args and args[0] in self.commands:
            return super().make_context(info_name, args, parent=parent, **extra)
        return self.default.make_context(info_name, args, parent=parent, **extra)


def _folder(value: Any) -> Path:
    raw = str(value)
    path = Path(raw)
    if not raw or not raw.isprintable() or (path.exists() and not path.is_dir()):
        raise typer.BadParameter(f"{raw!r} is not a folder; give a folder for the pack's files")
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{raw!r} cannot be written: {ancestor} is not writable")
    return path


OUT_OPT = extra_option(
    "out",
    Path | None,
    None,
    "--out",
    help="Folder to copy the files to (they are also kept under var/reports).",
    parser=_folder,
)


def _copy_out(
    outcome: Any, payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    """Copy the files to ``--out`` (if given); the payload names the copies."""
    out: Path | None = extras["out"]
    if out is None:
        return payload
    out.mkdir(parents=True, exist_ok=True)
    for key in ("html", "pdf"):
        if payload[key]:
            payload[key] = str(shutil.copy2(payload[key], out / Path(payload[key]).name))
    return payload


def _failed_sends(outcome: Any) -> int:
    """Exit 1 when a channel of --send failed (the pack itself was made)."""
    return 1 if any(s["status"] != "sent" for s in outcome.sent) else 0


def pack_command() -> WithSubcommands:
    """``pack`` (build a pack) with its ``schedule`` group."""
    build = typer.Typer(add_completion=False, rich_markup_mode=None)
    add_command(build, ops.PACK, extra=[OUT_OPT], after=_copy_out, exit_code=_failed_sends)
    schedule = typer.Typer(
        help="Send a report pack daily or weekly through alert channels.",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
    )
    add_command(schedule, ops.SCHEDULE_SET, name="set")
    add_command(schedule, ops.SCHEDULE_LIST, name="list")
    add_command(schedule, ops.SCHEDULE_REMOVE, name="remove")
    default = typer.main.get_command(build)
    default.name = "pack"
    group = typer.main.get_group(schedule)
    group.name = "schedule"
    return WithSubcommands(default=default, commands={"schedule": group})


def with_pack(**command: Any) -> WithSubcommands:
    """The class typer builds ``workbench report`` with: the tear-sheet command, and
    ``pack`` beside it (``cls=`` of the command's registration)."""
    return WithSubcommands(
        default=typer.core.TyperCommand(**command), commands={"pack": pack_command()}
    )


def install(app: typer.Typer, name: str = "report") -> None:
    """Give the registered command ``name`` of ``app`` the sub-command ``pack``."""
    factory: Callable[..., Command] = with_pack
    for info in app.registered_commands:
        if info.name == name:
            info.cls = factory  # type: ignore[assignment]
            return
    raise LookupError(f"no command {name!r} is registered to add `pack` to")


__all__ = ["WithSubcommands", "install", "pack_command", "with_pack"]
