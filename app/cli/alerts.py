"""``workbench`` commands: alert channels, rules, tests and history."""

from __future__ import annotations

from typing import Any

import typer

from app.cli._app import app
from app.cli._common import JSON_OPT, NAME_ARG, YES_OPT, _actor, _call, _delete, _toggle, emit
from app.cli._generate import add_command
from app.operations.alerts import CHANNEL_ADD, RULE_ADD

alerts_app = typer.Typer(help="Alert channels, rules, tests and history.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test(
    channel: str = typer.Option("in-app", "--channel", help="Channel name."),
    url: str | None = typer.Option(None, "--url", help="Add/replace the channel with this URL."),
    as_json: bool = JSON_OPT,
) -> None:
    """Send a test alert through a channel; exit 1 if delivery failed."""
    from app.services import alerts
    from core.alerts import ChannelSpec

    if url is not None:
        spec = _call(as_json, ChannelSpec, name=channel, url=url)
        _call(as_json, alerts.save_channel, spec=spec, actor=_actor(as_json))
    result = _call(as_json, alerts.send_test, channel=channel, actor=_actor(as_json))
    emit(
        result,
        as_json=as_json,
        text=f"{result['status']}: {result['message']}"
        + "".join(f"\n  error: {e}" for e in result["errors"]),
    )
    if result["status"] != "sent":
        raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(as_json: bool = JSON_OPT) -> None:
    """Configured channels (URLs masked) and rules."""
    from app.services import alerts

    payload = {
        "channels": alerts.list_channels(),
        "rules": [r.model_dump() for r in alerts.list_rules()],
    }
    emit(payload, as_json=as_json)


@alerts_app.command("history")
def alerts_history(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000), as_json: bool = JSON_OPT
) -> None:
    """Alert history, newest first."""
    from app.services import alerts

    rows = alerts.history(limit)
    emit(
        {"events": rows},
        as_json=as_json,
        text="\n".join(f"{r['at']} {r['status']:<10} {r['message']}" for r in rows),
    )


@alerts_app.command("audit")
def alerts_audit(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000), as_json: bool = JSON_OPT
) -> None:
    """Who changed which rule or channel, newest first."""
    from app.services import alerts

    rows = alerts.audit(limit)
    emit(
        {"audit": rows},
        as_json=as_json,
        text="\n".join(f"{r['at']} {r['actor']:<20} {r['action']:<24} {r['target']}" for r in rows),
    )


rule_app = typer.Typer(help="Add, enable, disable or delete alert rules.", no_args_is_help=True)
channel_app = typer.Typer(
    help="Add, enable, disable or delete alert channels.", no_args_is_help=True
)
alerts_app.add_typer(rule_app, name="rule")
alerts_app.add_typer(channel_app, name="channel")


@rule_app.command("enable")
def rule_enable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Enable a rule."""
    _toggle("rule", name, True, as_json)


@rule_app.command("disable")
def rule_disable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Disable a rule (kept, not evaluated)."""
    _toggle("rule", name, False, as_json)


@rule_app.command("delete")
def rule_delete(
    name: str = NAME_ARG,
    yes: bool = YES_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Delete a rule (its history stays)."""
    _delete("rule", name, yes, as_json)


def _url(raw: Any, values: dict[str, Any], as_json: bool) -> Any:
    """The URL as typed or prompted (kept secret; apprise checks it)."""
    return raw


add_command(rule_app, RULE_ADD)
add_command(channel_app, CHANNEL_ADD, converters={"url": _url})


@channel_app.command("enable")
def channel_enable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Enable a channel."""
    _toggle("channel", name, True, as_json)


@channel_app.command("disable")
def channel_disable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Disable a channel (rules skip it and record why)."""
    _toggle("channel", name, False, as_json)


@channel_app.command("delete")
def channel_delete(
    name: str = NAME_ARG,
    yes: bool = YES_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Delete a channel no rule uses (its encrypted URL goes with it)."""
    _delete("channel", name, yes, as_json)
