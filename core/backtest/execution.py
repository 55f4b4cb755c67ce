"""The execution convention (:data:`core.backtest.spec.EXECUTION`) as array operations.

A target decided at the close of bar t is held from the open of bar t + 1, and an order
is sent only on the bars where the held target changes. The vectorbt backtests
(:mod:`core.backtest.engine`) and the numpy sweep kernel (:mod:`core.sweep`) share these
two functions, so both trade on the same bars.
"""

from __future__ import annotations

import numpy as np


def held_targets(targets: np.ndarray, axis: int = 0) -> np.ndarray:
    """Shift targets one bar later along ``axis`` (the target held from bar t's open).

    Bar 0 is flat.

    >>> held_targets(np.array([1.0, 0.0, -1.0]))
    array([0., 1., 0.])
    """
    targets = np.asarray(targets)
    held = np.zeros_like(targets)
    src = [slice(None)] * targets.ndim
    dst = [slice(None)] * targets.ndim
    src[axis], dst[axis] = slice(None, -1), slice(1, None)
    held[tuple(dst)] = targets[tuple(src)]
    return held


def order_mask(held: np.ndarray, axis: int = 0) -> np.ndarray:
    """Bars where an order is sent: the held target differs from the bar before (start flat).

    >>> order_mask(np.array([0.0, 1.0, 1.0, 0.0]))
    array([False,  True, False,  True])
    """
    return np.asarray(held != held_targets(held, axis))


__all__ = ["held_targets", "order_mask"]
