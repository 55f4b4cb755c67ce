"""A fake wall clock that moves only when slept on, for code taking ``clock`` and
``sleep`` callables (the paper worker, feeds): no wall-clock sleeps in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

MONDAY_1500_UTC = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


class FakeTime:
    """``clock()`` reads ``now``; ``sleep(seconds)`` records the sleep and moves ``now``
    on at once. ``sleeps`` lists them in order, ``slept`` is their total."""

    def __init__(self, start: datetime = MONDAY_1500_UTC) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.slept = 0.0

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.slept += seconds
        self.now += timedelta(seconds=seconds)
