"""``workbench`` commands: alert channels, rules, tests and history (generated from
app/operations/alerts.py, except ``alerts list``)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from app.cli._app import app
from app.cli._common import JSON_OPT, emit, fail
from app.cli._generate import add_command, extra_option
from app.operations import alerts as ops

alerts_app = typer.Typer(help="Alert channels, rules, tests and history.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")
rule_app = typer.Typer(help="Add, enable, disable or delete alert rules.", no_args_is_help=True)
channel_app = typer.Typer(
    help="Add, enable, disable or delete alert channels.", no_args_is_help=True
)
alerts_app.add_typer(rule_app, name="rule")
alerts_app.add_typer(channel_app, name="channel")

YES = extra_option("yes", bool, False, "--yes", help="Confirm.")


def _url(raw: Any, values: dict[str, Any], as_json: bool) -> Any:
    """The URL as typed or prompted (kept secret; apprise checks it)."""
    return raw


def _delivered(
    result: dict[str, Any], payload: dict[str, Any], extras: dict[str, Any], as_json: bool
) -> dict[str, Any]:
    """A failed delivery prints its result, then exits 1."""
    if result["status"] != "sent":
        emit(payload, as_json=as_json, text=ops.delivery_text(result, payload))
        raise typer.Exit(1)
    return payload


def _confirmed(kind: str) -> Any:
    """Refuse a delete before any work unless --yes (or a yes on a terminal)."""

    def before(values: dict[str, Any], as_json: bool) -> None:
        if values["yes"]:
            return
        what = f"{kind} {values['name']}"
        if not sys.stdin.isatty():
            fail(f"deleting {what} needs confirmation: add --yes", as_json=as_json)
        if not typer.confirm(f"Delete {what}?"):
            raise typer.Exit(1)

    return before


add_command(alerts_app, ops.TEST, converters={"url": _url}, after=_delivered)


@alerts_app.command("list")
def alerts_list(as_json: bool = JSON_OPT) -> None:
    """Configured channels (URLs masked) and rules."""
    from app.services import alerts

    payload = {
        "channels": alerts.list_channels(),
        "rules": [r.model_dump() for r in alerts.list_rules()],
    }
    emit(payload, as_json=as_json)


add_command(alerts_app, ops.HISTORY)
add_command(alerts_app, ops.AUDIT)
add_command(rule_app, ops.RULE_ADD)
add_command(rule_app, ops.RULE_ENABLE)
add_command(rule_app, ops.RULE_DISABLE)
add_command(rule_app, ops.RULE_DELETE, extra=[YES], before=_confirmed("rule"))
add_command(channel_app, ops.CHANNEL_ADD, converters={"url": _url})
add_command(channel_app, ops.CHANNEL_ENABLE)
add_command(channel_app, ops.CHANNEL_DISABLE)
add_command(channel_app, ops.CHANNEL_DELETE, extra=[YES], before=_confirmed("channel"))
