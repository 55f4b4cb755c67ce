"""Paper-trading read services: a session's monitor view and the risk of its book."""

from __future__ import annotations

from app.operations.paper import StatusRequest
from app.services.paper_io import IO, limits, sessions
from core.paper import session
from core.paper.monitor import MonitorView, read_monitor, risk_state
from core.risk import RiskReport, portfolio_risk
from core.store.paper import PaperSessionRepository


def monitor(request: StatusRequest | None = None) -> MonitorView:
    """Read the state of a session (the newest one when not named)."""
    with sessions() as s:
        return read_monitor(s, None if request is None else request.session)


def risk_report(view: MonitorView) -> RiskReport | None:
    """The risk report of a session's current book (None without one): a live session's
    returns and prices from the bars it stored, a replay's from its dataset."""
    stored = None
    if view.session is not None:
        with sessions() as s:
            row = PaperSessionRepository(s).get(view.session["name"])
            stored = None if row is None else session.stored_frames(s, row)
    closes = IO.frames if stored is None else lambda _dataset, symbol: stored[symbol]
    state = risk_state(view, closes)
    return None if state is None else portfolio_risk(state, limits())


__all__ = ["monitor", "risk_report"]
