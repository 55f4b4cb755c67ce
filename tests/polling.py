"""Waiting on another process's effect (a database row, a pid): an event, not a timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    check: Callable[[], Any], what: str, timeout_s: float = 240.0, *, every_s: float = 0.1
) -> Any:
    """``check()``'s first truthy value, polled every ``every_s`` seconds; AssertionError
    naming ``what`` after ``timeout_s`` (a generous bound on a loaded machine)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")
