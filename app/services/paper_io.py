"""What the paper services share: the database sessions, the limits in force, and the
brokers and prices of sessions (:class:`core.paper.session.SessionIO`)."""

from __future__ import annotations

from typing import Any

from app.services.db import get_engine
from core.data.catalog import load_prices
from core.paper import session
from core.risk import RiskLimits
from core.risk.versions import limits_in_force
from core.store.db import session_scope


def sessions() -> Any:
    """A transaction on the app's database."""
    return session_scope(get_engine())


def limits() -> RiskLimits:
    """The risk limits in force."""
    with sessions() as s:
        return limits_in_force(s)[1]


IO = session.SessionIO(
    broker_for=lambda config: session.make_broker(get_engine(), config),
    frames=lambda dataset, symbol: load_prices(sessions, dataset, symbol),
)
"""The brokers and prices of sessions, for :mod:`core.paper`."""

__all__ = ["IO", "limits", "sessions"]
