"""Alerts page parts: the save callbacks of the channel and rule forms, the tables as
people read them, and disable/enable and confirmed delete of rules and channels.

Saving runs in the form's submit callback, before the page is drawn, so whatever the
save created (a channel in "Send a test through" and in a rule's channels, a rule in
"Disable or delete a rule") is listed in the same run; a refusal is kept under its
field (:data:`ERRORS`) and shown beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import streamlit as st
from pydantic import ValidationError

from app.components.numbers import MISSING, integer, number, pct
from app.operations.alerts import AlertNameRequest
from app.operations.errors import field_errors
from app.services import alerts
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.alerts import AlertRuleSpec, ChannelSpec
from core.alerts.rules import THRESHOLDS

FLASH = "alerts.flash"
ERRORS = "alerts.form_errors"
"""Refusals of the last save: ``{"channel.url": [...], "rule.threshold": [...], ...}``."""
LABELS = {"url": "Apprise URL", "cooldown_s": "Cooldown (s)"}
"""Labels of the fields whose names are not the words the page shows (plain words such
as "threshold" are left alone: they also appear inside the rules' messages)."""
CHANNEL_FIELDS = ("name", "url")
RULE_FIELDS = ("name", "threshold", "metric", "channels")


def _keep_errors(form: str, exc: Exception, fields: Iterable[str]) -> None:
    """Each problem as a plain sentence under its field (a rule across fields names it
    first: "Threshold: a drawdown rule needs ..."); the rest under the form."""
    out: dict[str, list[str]] = {}
    for problem in field_errors(exc, labels=LABELS):
        field = problem.field or problem.message.split(":", 1)[0].lower()
        out.setdefault(f"{form}.{field}" if field in fields else form, []).append(problem.message)
    st.session_state[ERRORS] = out


def save_channel() -> None:
    """Submit callback of the channel form; a saved channel is chosen for the test send."""
    ss = st.session_state
    name = str(ss.get("alerts.ch.name", "")).strip()
    try:
        spec = ChannelSpec(
            name=name,
            url=str(ss.get("alerts.ch.url", "")).strip(),
            enabled=bool(ss.get("alerts.ch.enabled", True)),
        )
        alerts.save_channel(spec, actor=current_actor())
    except ValidationError as exc:
        _keep_errors("channel", exc, CHANNEL_FIELDS)
    except (PermissionDenied, ValueError) as exc:
        ss[ERRORS] = {"channel": [str(exc)]}
    else:
        ss[FLASH] = ("ok", f"Channel {name} saved: {spec.masked}")
        ss["alerts.test_channel"] = ss["alerts.manage.channel"] = name


def save_rule() -> None:
    """Submit callback of the rule form (the threshold field is the kind's own)."""
    ss = st.session_state
    kind = ss["alerts.rule.kind"]
    name = str(ss.get("alerts.rule.name", "")).strip()
    threshold = ss.get(f"alerts.rule.threshold.{kind}") if kind in THRESHOLDS else None
    try:
        spec = AlertRuleSpec(
            name=name,
            kind=kind,
            threshold=threshold,
            metric=str(ss.get("alerts.rule.metric", "")).strip() or None,
            channels=list(ss.get("alerts.rule.channels", [])),
            severity=ss.get("alerts.rule.severity", "warning"),
            cooldown_s=int(ss.get("alerts.rule.cooldown", 900)),
        )
        alerts.save_rule(spec, actor=current_actor())
    except ValidationError as exc:
        _keep_errors("rule", exc, RULE_FIELDS)
    except (PermissionDenied, ValueError) as exc:
        ss[ERRORS] = {"rule": [str(exc)]}
    else:
        ss[FLASH] = ("ok", f"Rule {name} saved.")
        ss["alerts.manage.rule"] = name


def show_errors(slot: Any, errors: Mapping[str, list[str]], key: str) -> None:
    """The refusals kept under ``key`` (e.g. "rule.threshold"), in ``slot``."""
    for message in errors.get(key, []):
        slot.error(message)


def threshold_text(kind: str, value: float | None) -> str:
    """A rule's threshold in its unit: fractions as a percentage, counts as integers.

    >>> threshold_text("drawdown", 0.1), threshold_text("heartbeat", 120.0)
    ('10.0%', '120 s')
    """
    unit = THRESHOLDS.get(kind)
    if value is None or unit is None:
        return MISSING
    if unit.is_fraction:
        return pct(value)
    if unit.unit.startswith("seconds"):
        return f"{integer(value)} s"
    if unit.unit.startswith("milliseconds"):
        return f"{integer(value)} ms"
    return integer(value) if unit.integer or value == int(value) else number(value, 4)


def when(value: Any) -> str:
    """An event's time to the second, in UTC."""
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return f"{stamp:%Y-%m-%d %H:%M:%S} UTC"


def rule_rows(rules: Iterable[AlertRuleSpec]) -> list[dict[str, str]]:
    """The rules table: every cell text, the threshold in its unit."""
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "threshold": threshold_text(r.kind, r.threshold),
            "metric": r.metric or MISSING,
            "channels": ", ".join(r.channels),
            "severity": r.severity,
            "cooldown": f"{integer(r.cooldown_s)} s",
            "enabled": "yes" if r.enabled else f"no{f' ({r.problem})' if r.problem else ''}",
        }
        for r in rules
    ]


def channel_rows(channels: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The channels table (URLs masked), the in-app inbox first."""
    rows = [{"name": "in-app", "url": "in-app (the history on this page)", "enabled": "yes"}]
    return rows + [
        {"name": c["name"], "url": c["url"], "enabled": "yes" if c["enabled"] else "no"}
        for c in channels
    ]


def event_rows(events: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The alert history: every cell text, times to the second."""
    return [
        {
            "at": when(e["at"]),
            "rule": e["rule"] or MISSING,
            "kind": e["kind"],
            "severity": e["severity"],
            "status": e["status"],
            "message": e["message"],
            "channels": ", ".join(e["channels"]),
            "errors": "; ".join(e["errors"]),
        }
        for e in events
    ]


def audit_rows(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Who changed which rule or channel, times to the second."""
    return [{**{k: str(v) for k, v in e.items()}, "at": when(e["at"])} for e in entries]


def _act(
    what: str, fn: Callable[..., object], confirm_key: str | None = None, **kwargs: object
) -> None:
    """Button callback: run a service action, reset its confirmation, flash the outcome."""
    try:
        fn(actor=current_actor(), **kwargs)
    except (PermissionDenied, ValueError, LookupError) as exc:
        st.session_state[FLASH] = ("error", str(exc))
    else:
        st.session_state[FLASH] = ("ok", what)
    if confirm_key:
        st.session_state[confirm_key] = False


def render_disable_delete(kind: str, names: list[str], enabled: dict[str, bool]) -> None:
    """Enable/disable and delete (with a confirmation) for rules or channels."""
    if not names:
        return
    st.markdown(f"**Disable or delete a {kind}**")
    m1, m2, m3, m4 = st.columns([2, 1, 2, 1])
    chosen = f"alerts.manage.{kind}"
    if st.session_state.get(chosen) not in names:  # deleted, or never chosen
        st.session_state.pop(chosen, None)
    name = m1.selectbox(kind.capitalize(), names, key=chosen)
    on = enabled.get(name, True)
    if kind == "rule":
        toggle = alerts.disable_rule if on else alerts.enable_rule
    else:
        toggle = alerts.disable_channel if on else alerts.enable_channel
    m2.button(
        "Disable" if on else "Enable",
        key=f"alerts.toggle.{kind}",
        on_click=_act,
        args=(f"{kind.capitalize()} {name} {'disabled' if on else 'enabled'}.", toggle),
        kwargs={"request": AlertNameRequest(name=name)},
    )
    confirm = f"alerts.confirm_delete.{kind}"
    sure = m3.checkbox(f"Yes, delete {kind} {name}", key=confirm)
    remove = alerts.delete_rule if kind == "rule" else alerts.delete_channel
    m4.button(
        "Delete",
        key=f"alerts.delete.{kind}",
        disabled=not sure,
        on_click=_act,
        args=(f"{kind.capitalize()} {name} deleted.", remove, confirm),
        kwargs={"request": AlertNameRequest(name=name)},
    )
