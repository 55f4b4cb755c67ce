"""Paper-trading requests: the settings a paper session is created with.

A session keeps these settings in its row; later runs name the session and get the same
settings back (``workbench paper run --session NAME``), so the dashboard and the CLI
start a worker with nothing but the session's name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.operations.costs import Costs

SESSION_PATTERN = r"^[A-Za-z0-9_-]+$"
"""A paper session's name: letters, digits, '_' and '-' (at most :data:`SESSION_MAX`)."""
SESSION_MAX = 32


class PaperRequest(Costs):
    """A paper session's settings (fixed once the session exists)."""

    session: str = Field(
        default="default",
        pattern=SESSION_PATTERN,
        max_length=SESSION_MAX,
        description="Session name (resumes if it exists)",
    )
    broker: Literal["sim", "alpaca"] = Field(default="sim", description="sim or alpaca")
    dataset: str = Field(default="ohlcv_daily", description="Dataset of the replayed prices")
    symbols: list[str] = Field(
        default_factory=lambda: ["SP500"],
        min_length=1,
        max_length=20,
        description="Symbols traded (repeatable)",
    )
    train_bars: int = Field(
        default=1000, ge=250, le=10_000, description="Bars used to tune the agents"
    )
    selector: Literal["ucb", "thompson", "exp3", "contextual"] = Field(
        default="contextual", description="Meta-selector of the agents"
    )
    initial_cash: float = Field(default=100_000.0, gt=0, le=1e12, description="Starting cash")
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1, description="Seed of the regime model and selector"
    )


__all__ = ["SESSION_MAX", "SESSION_PATTERN", "PaperRequest"]
