"""``workbench`` commands: alert channels, rules, tests and history (generated from
app/operations/alerts.py, except ``alerts list``)."""

from __future__ import annotations

import math
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
def alerts_list(
    as_json: bool = JSON_OPT,
    last: int = typer.Option(50, "--last", min=1, max=10_000, help="Recent alerts to list."),
) -> None:
    """Configured channels (URLs masked) and rules, the rule kinds (unit, range, example)
    and the most recent alerts fired (``fired``, newest first: sent or failed; repeats
    suppressed by a cooldown are in ``alerts history``)."""
    from app.operations.alerts import AlertLogRequest
    from app.services import alerts
    from core.alerts.rules import KINDS, MONITORING_KINDS, QUALITY_KINDS, THRESHOLDS

    history = alerts.history(AlertLogRequest(limit=10_000))
    fired = [e for e in history if e["status"] != "suppressed"][:last]
    payload = {
        "channels": alerts.list_channels(),
        "rules": [r.model_dump() for r in alerts.list_rules()],
        "kinds": [
            {
                "kind": kind,
                "group": "monitoring"
                if kind in MONITORING_KINDS
                else "data quality"
                if kind in QUALITY_KINDS
                else "trading",
                "threshold": THRESHOLDS[kind].describe() if kind in THRESHOLDS else None,
            }
            for kind in KINDS
        ],
        "fired": fired,
        "fired_kinds": sorted({e["kind"] for e in fired}),
    }
    text = None
    if not as_json:
        lines = [f"{len(payload['rules'])} rule(s), {len(payload['channels'])} channel(s)"]
        lines += [f"  rule {r['name']} ({r['kind']})" for r in payload["rules"]]
        lines += [f"  fired {e['at']} {e['kind']}: {e['message']}" for e in fired[:10]]
        text = "\n".join(lines)
    emit(payload, as_json=as_json, text=text)


@alerts_app.command("watch")
def alerts_watch(
    once: bool = typer.Option(False, "--once", help="Check once and exit."),
    interval: float = typer.Option(
        5.0, "--interval", help="Seconds between checks (above 0, at most 3600)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Watch the running paper sessions from outside their workers: fire heartbeat when a
    worker dies or hangs, stale_data when no bar comes while the market is open."""
    from app.services import watchdog

    if not (math.isfinite(interval) and 0 < interval <= 3600):
        fail(
            f"--interval must be above 0 and at most 3600 seconds; got {interval:g}",
            as_json=as_json,
        )
    if once:
        results = watchdog.check_once()
        payload = {"sessions": watchdog.status(), "fired": results}
        text = (
            "\n".join(
                [
                    f"session {s['session']}: heartbeat {s['heartbeat_age_s']} s ago, "
                    f"missed bars {s['missed_bars']}"
                    for s in payload["sessions"]
                ]
                + [r["message"] for r in results]
            )
            or "no running paper session"
        )
        emit(payload, as_json=as_json, text=text)
        return
    sent = watchdog.watch(interval_s=interval)
    emit({"dispatched": sent}, as_json=as_json, text=f"{sent} alert(s) dispatched")


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
