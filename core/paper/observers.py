"""Hooks that watch every bar of a paper session inside its transaction.

The model loop (shadow challengers, the live A/B test, :mod:`core.paper.model_loop`) and
monitoring (live model metrics, drift, data quality: :mod:`core.monitoring`) are
observers: the worker calls :meth:`BarObserver.on_bar` once per processed bar, after the
decisions and before the bar commits, in the bar's own database session, so what an
observer writes commits (or rolls back) with the bar. Observers only read data up to the
bar (``frames`` end at it): no look-ahead.

They may add figures to ``event.report`` (``model_metrics``, ``drift``, ``quality``,
``probabilities``), which the alert rules see after the commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from core.paper.report import CycleReport


@dataclass(frozen=True)
class BarEvent:
    """One processed bar of a session, as observers see it.

    Attributes
    ----------
    session_id, session_name
        The paper session.
    t, ts
        The bar's position in the session's calendar and its label.
    frames
        Each symbol's bars up to and including bar t (nothing after it).
    decisions
        The live pipeline's :class:`~core.pipeline.Decision` per symbol at this bar.
    closes
        Each symbol's close at bar t.
    equity
        The book's equity at the close of bar t.
    report
        The cycle's report (observers may add figures to it).
    config
        The session's stored settings.
    """

    session_id: int
    session_name: str
    t: int
    ts: pd.Timestamp
    frames: Mapping[str, pd.DataFrame]
    decisions: Mapping[str, Any]
    closes: Mapping[str, float]
    equity: float
    report: CycleReport
    config: Mapping[str, Any]


class BarObserver(Protocol):
    """Something that watches every bar (see the module docstring)."""

    def rebuild(self, upto: int, frames: Mapping[str, pd.DataFrame]) -> None:
        """Restore the observer's in-memory state after a (re)start: bars ``0 .. upto-1``
        are done (``frames`` hold them); stored state is read from the database."""
        ...

    def on_bar(self, event: BarEvent, s: Session) -> None:
        """Watch one bar, writing in ``s`` (the bar's transaction)."""
        ...


__all__ = ["BarEvent", "BarObserver"]
