"""A request rate limit per token: a token bucket holding 2 seconds' worth of requests.

>>> t = [0.0]
>>> limiter = RateLimiter(clock=lambda: t[0])
>>> [limiter.wait_s(1, rate_per_s=1.0) for _ in range(3)]  # a burst of 2, then wait 1 s
[0.0, 0.0, 1.0]
>>> t[0] = 1.0
>>> limiter.wait_s(1, rate_per_s=1.0)
0.0
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

BURST_S = 2.0
"""The bucket holds this many seconds' worth of requests (at least one request)."""


class RateLimiter:
    """Token buckets keyed by caller (an API token, an OIDC user); thread-safe, with an
    injectable clock (seconds, monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key -> (tokens, at)

    def wait_s(self, key: Hashable, *, rate_per_s: float) -> float:
        """Take one request from ``key``'s bucket: 0.0 when allowed, else the seconds until
        the next request would be (nothing is taken then)."""
        capacity = max(1.0, rate_per_s * BURST_S)
        at = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, at))
            tokens = min(capacity, tokens + max(0.0, at - last) * rate_per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, at)
                return 0.0
            self._buckets[key] = (tokens, at)
            return (1.0 - tokens) / rate_per_s


__all__ = ["BURST_S", "RateLimiter"]
