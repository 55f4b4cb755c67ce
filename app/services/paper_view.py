"""Paper-trading read services: a session's monitor view and the risk of its book."""

from __future__ import annotations

from app.operations.paper import StatusRequest
from app.services.paper_io import IO, limits, sessions
from core.paper.monitor import MonitorView, read_monitor, risk_state
from core.risk import RiskReport, portfolio_risk


def monitor(request: StatusRequest | None = None) -> MonitorView:
    """Read the state of a session (the newest one when not named)."""
    with sessions() as s:
        return read_monitor(s, None if request is None else request.session)


def risk_report(view: MonitorView) -> RiskReport | None:
    """The risk report of a session's current book (None without one)."""
    state = risk_state(view, IO.frames)
    return None if state is None else portfolio_risk(state, limits())


__all__ = ["monitor", "risk_report"]
