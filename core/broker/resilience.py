"""Bounded exponential backoff and a circuit breaker for calls to a remote broker."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import requests

from core.broker.base import CircuitOpenError

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Attempt ``k`` (0-based) waits ``min(max_delay_s, base_delay_s * multiplier**k)``
    before the next try, times a uniform draw in ``[0.5, 1]`` when ``jitter``.

    >>> [RetryPolicy(base_delay_s=0.1, jitter=False).delay(k) for k in range(3)]
    [0.1, 0.2, 0.4]
    """

    max_attempts: int = 4
    base_delay_s: float = 0.25
    multiplier: float = 2.0
    max_delay_s: float = 4.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1; got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.multiplier < 1:
            raise ValueError("delays must be >= 0 and multiplier >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (0-based)."""
        wait = min(self.max_delay_s, self.base_delay_s * self.multiplier**attempt)
        return wait * random.uniform(0.5, 1.0) if self.jitter else wait


class CircuitBreaker:
    """Stop calling a failing service for a while.

    ``closed``: calls pass; ``failure_threshold`` consecutive failures open it.
    ``open``: calls fail at once with :class:`CircuitOpenError` until ``cooldown_s``
    has passed, then it is ``half_open``: one trial call passes; success closes it,
    failure opens it again for another cool-down.

    Parameters
    ----------
    failure_threshold
        Consecutive failures that open the circuit.
    cooldown_s
        Seconds to stay open.
    clock
        Monotonic clock (injectable for tests).
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_s < 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_s >= 0")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open`` (cool-down over, trial allowed)."""
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def before_call(self) -> None:
        """Raise :class:`CircuitOpenError` unless a call may go through now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half_open" and not self._trial_running:
                self._trial_running = True
                return
            assert self._opened_at is not None
            wait = max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
            raise CircuitOpenError(
                f"broker circuit open after {self._failures} consecutive failures; "
                f"next trial in {wait:.1f} s"
            )

    def record_success(self) -> None:
        """A call succeeded: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        """A call failed: count it, and open (or re-open) the circuit when due."""
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_running = False


class _TimeoutSession(requests.Session):
    """A requests session with a default timeout (alpaca-py sets none)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def request(self, method: str, url: str | bytes, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout_s)
        return super().request(method, url, **kwargs)


def harden(client: Any, timeout_s: float) -> None:
    """Give an alpaca-py REST client a timeout and turn off its own retries.

    Its RESTClient has no timeout and retries 429/504 itself with fixed 3 s sleeps;
    retrying is left to our bounded :class:`RetryPolicy`.
    """
    client._session = _TimeoutSession(timeout_s)
    client._retry = 0
