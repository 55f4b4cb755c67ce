"""Pytest fixtures over the fakes; import them into a test module to use them::

from tests.fakes.fixtures import fake_alpaca  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.broker.alpaca import AlpacaBroker
from core.broker.resilience import CircuitBreaker, RetryPolicy
from tests.fakes.alpaca_server import FakeAlpaca


@pytest.fixture
def fake_alpaca() -> Iterator[FakeAlpaca]:
    """A started fake Alpaca server on a free port of 127.0.0.1."""
    fake = FakeAlpaca().start()
    try:
        yield fake
    finally:
        fake.close()


def broker_for(fake: FakeAlpaca, **options: Any) -> AlpacaBroker:
    """An ``AlpacaBroker`` pointed at ``fake`` with fast, deterministic retries."""
    options.setdefault("retry", RetryPolicy(max_attempts=3, base_delay_s=0.01, jitter=False))
    options.setdefault("breaker", CircuitBreaker(failure_threshold=5, cooldown_s=30.0))
    options.setdefault("timeout_s", 2.0)
    return AlpacaBroker(key=fake.key, secret=fake.secret, url_override=fake.url, **options)
