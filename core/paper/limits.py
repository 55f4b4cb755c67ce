"""The risk limits in force for a paper worker, read again only when their version changes.

A worker polls the control row and the newest limit version in one statement before
every bar (:meth:`~core.store.paper.WorkerControlRepository.poll`); the limits
themselves are loaded and validated only when that version differs from the one cached,
so a change applies from the next decision without a restart, and without a read per
bar.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from core.risk import RiskLimits
from core.risk.versions import limits_in_force

LimitsProvider = Callable[[], RiskLimits]


class StoredLimits:
    """The limits in force in the worker's database, cached by version.

    Pass an instance as the worker's ``limits``: it then reads them in the bar's own
    transaction. Called with no arguments (any other caller), it reads them in a
    transaction of ``sessions``, if given.
    """

    def __init__(self, sessions: Callable[[], Session] | None = None) -> None:
        self._sessions = sessions
        self.version: int | None = None
        self._limits: RiskLimits | None = None
        self.loads = 0
        """How often the limits were read and validated (one per version seen)."""

    def in_session(self, s: Session, version: int) -> RiskLimits:
        """The limits of ``version`` (read in ``s`` unless that version is cached)."""
        if self._limits is None or version != self.version:
            self.version, self._limits = limits_in_force(s)
            self.loads += 1
        return self._limits

    def __call__(self) -> RiskLimits:
        if self._sessions is None:
            raise RuntimeError("StoredLimits() needs sessions= to be called on its own")
        with self._sessions() as s, s.begin():
            self.version, self._limits = limits_in_force(s)
            self.loads += 1
            return self._limits


__all__ = ["LimitsProvider", "StoredLimits"]
