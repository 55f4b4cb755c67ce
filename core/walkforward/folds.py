"""The fold layout of a walk-forward: rolling or anchored training windows, each followed
by a non-overlapping test window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1], message for the user."""

CheckCancel = Callable[[], None]
"""Called before each fold; it raises to stop the walk-forward (e.g. ``CancelToken.check``)."""


class WalkForwardSpec(BaseModel):
    """How to cut bars into walk-forward folds (frozen).

    Parameters
    ----------
    mode : {"rolling", "anchored"}
        Rolling: the last ``train_bars`` bars before each test window. Anchored: every
        bar from the start (at least ``train_bars``).
    train_bars : int
        Training window (rolling) or the first training window (anchored).
    test_bars : int
        Bars per out-of-sample window.
    step_bars : int, optional
        Distance between consecutive test starts (default ``test_bars``); must be
        ``>= test_bars`` so test windows never overlap.
    folds : int, optional
        Keep only the most recent ``folds`` windows (error if fewer fit).

    >>> WalkForwardSpec(train_bars=500, test_bars=100).step
    100
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["rolling", "anchored"] = "rolling"
    train_bars: int = Field(ge=20)
    test_bars: int = Field(ge=2)
    step_bars: int | None = Field(default=None, ge=1)
    folds: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> WalkForwardSpec:
        if self.step_bars is not None and self.step_bars < self.test_bars:
            raise ValueError(
                f"step_bars ({self.step_bars}) must be >= test_bars ({self.test_bars}): "
                "overlapping test windows cannot be stitched into one out-of-sample track"
            )
        return self

    @property
    def step(self) -> int:
        """Bars between test starts."""
        return self.step_bars or self.test_bars


@dataclass(frozen=True)
class FoldWindow:
    """Integer bar positions of one fold (ends exclusive)."""

    fold: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int


def fold_windows(n_bars: int, spec: WalkForwardSpec) -> list[FoldWindow]:
    """The folds of ``spec`` on ``n_bars`` bars; a trailing partial test window is unused.

    >>> [(w.train_start, w.test_start, w.test_end)
    ...  for w in fold_windows(100, WalkForwardSpec(train_bars=50, test_bars=20))]
    [(0, 50, 70), (20, 70, 90)]
    """
    starts = list(range(spec.train_bars, n_bars - spec.test_bars + 1, spec.step))
    if not starts:
        raise ValueError(
            f"{n_bars} bars are too few for train_bars={spec.train_bars} + "
            f"test_bars={spec.test_bars}"
        )
    if spec.folds is not None:
        if len(starts) < spec.folds:
            raise ValueError(
                f"only {len(starts)} folds fit in {n_bars} bars, {spec.folds} requested; "
                "shorten train_bars/test_bars/step_bars or use more data"
            )
        starts = starts[-spec.folds :]
    windows = []
    for k, lo in enumerate(starts):
        train_start = 0 if spec.mode == "anchored" else lo - spec.train_bars
        windows.append(FoldWindow(k, train_start, lo, lo, lo + spec.test_bars))
    return windows


__all__ = ["CheckCancel", "FoldWindow", "Progress", "WalkForwardSpec", "fold_windows"]
