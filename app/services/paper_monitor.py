"""What the Paper trading page shows beside the monitor view: whether Alpaca keys are
set, the feed badge and market clock in words, the drift rule's threshold and the
latest alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.operations.alerts import AlertLogRequest
from app.operations.paper import feed_status
from app.services import alerts
from core.config import get_settings
from core.monitoring.drift import DRIFT_THRESHOLD
from core.paper.monitor import MonitorView

KEY_NAMES = ("ALPACA_API_KEY", "APCA_API_KEY_ID")
SECRET_NAMES = ("ALPACA_SECRET_KEY", "APCA_API_SECRET_KEY")
"""core.broker.alpaca's key names, written here so that the page's first render does not
import alpaca-py (tests/pages/test_first_render_imports.py; equal: test_paper_live_page)."""
BADGES = {"alpaca": "LIVE", "simulated": "SIMULATED-LIVE", "replay": "REPLAY"}
"""The badge of each feed."""


def alpaca_keys_set() -> bool:
    """Whether an Alpaca key id and secret are set (environment or secrets file)."""
    settings = get_settings()
    return any(settings.secret(n) for n in KEY_NAMES) and any(
        settings.secret(n) for n in SECRET_NAMES
    )


def status(view: MonitorView, now: datetime | None = None) -> dict[str, Any]:
    """The running feed's badge, the market clock in words and the heartbeat's age (s)."""
    now = now or datetime.now(UTC)
    out = feed_status(view, now)
    out["badge"] = BADGES.get(str(out["feed"]), str(out["feed"]).upper())
    return out


def drift_threshold() -> tuple[float, str]:
    """The PSI a drift alert fires at: the lowest enabled drift rule's threshold (and its
    name), else the conventional 0.25 of a major shift."""
    rules = [r for r in alerts.list_rules() if r.kind == "drift" and r.enabled and r.threshold]
    if not rules:
        return DRIFT_THRESHOLD, "no drift rule: the conventional major shift"
    rule = min(rules, key=lambda r: float(r.threshold or 0.0))
    return float(rule.threshold or 0.0), f"rule {rule.name}"


def session_alerts(
    session: str | None, *, limit: int = 20, scan: int = 2000
) -> tuple[list[dict[str, Any]], int]:
    """The newest alerts about the session that fired (their message ends "[session
    NAME]"; every alert without a session), and how many repeats of them a rule's
    cooldown suppressed, among the newest ``scan`` entries of the history."""
    rows = alerts.history(AlertLogRequest(limit=scan))
    if session:
        rows = [r for r in rows if f"[session {session}]" in r["message"]]
    fired = [r for r in rows if r["status"] != "suppressed"]
    return fired[:limit], len(rows) - len(fired)


__all__ = ["BADGES", "alpaca_keys_set", "drift_threshold", "session_alerts", "status"]
