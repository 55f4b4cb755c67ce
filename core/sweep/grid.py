"""Sweep grids: numeric axes and the rules a grid must pass before any work.

An axis is an inclusive range ``start:stop:step`` (:class:`GridAxis`), sized arithmetically
so that an absurd range is refused before a single point is built. :func:`check_grid`
checks the axes against the strategy's declared parameter types and ranges and caps the
number of combinations; :func:`check_bars` refuses windows longer than the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # numpy and the strategy catalog are imported where they are used
    import numpy as np

MAX_COMBINATIONS = 1_000_000
"""Most combinations one sweep request may have (and most points on one grid axis)."""
MAX_GRID_COMBINATIONS = 2_000_000
"""Raw combinations :func:`core.sweep.sweep` accepts; checked from the axis lengths before
anything is built."""


def _g(value: float) -> str:
    return f"{value:g}"


class GridAxis(BaseModel):
    """An inclusive numeric range ``start:stop:step`` of finite numbers.

    Its length is computed arithmetically and capped at :data:`MAX_COMBINATIONS` before
    any point is built, so ``1:1e15:1`` is refused instantly instead of allocating.

    >>> GridAxis.parse("5:100:5").count
    20
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    start: float
    stop: float
    step: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> GridAxis:
        form = f"{_g(self.start)}:{_g(self.stop)}:{_g(self.step)}"
        if self.stop < self.start:
            raise ValueError(f"{form}: stop {self.stop} is below start {self.start}")
        span = (self.stop - self.start) / self.step
        if not math.isfinite(span) or span + 1 > MAX_COMBINATIONS:
            points = f"{math.floor(span) + 1:,}" if span < 1e12 else f"{span:.3g}"
            points = points if math.isfinite(span) else "too many"
            raise ValueError(
                f"{form} has {points} points, more than the cap of {MAX_COMBINATIONS:,}; "
                "use a larger step or a narrower range"
            )
        scale = max(abs(self.start), abs(self.stop))
        if self.stop > self.start and self.step <= scale * 1e-12:
            raise ValueError(f"{form}: step {_g(self.step)} is too small for values this large")
        return self

    @property
    def count(self) -> int:
        """Number of grid points, without building them."""
        return math.floor((self.stop - self.start) / self.step + 1e-9) + 1

    @property
    def last(self) -> float:
        """The largest point on the axis (``stop`` when it lies on the grid)."""
        return self.start + self.step * (self.count - 1)

    def values(self) -> np.ndarray:
        """The grid points, integers when all three bounds are integers."""
        import numpy as np

        points = self.start + self.step * np.arange(self.count)
        bounds = (self.start, self.stop, self.step)
        if all(float(v).is_integer() for v in bounds) and max(map(abs, bounds)) < 2**53:
            return points.astype(np.int64)
        return np.round(points, 10) if max(map(abs, bounds)) < 1e15 else points

    @classmethod
    def parse(cls, text: str) -> GridAxis:
        """Parse ``start:stop:step`` (step defaults to 1)."""
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ValueError(f"grid range {text!r} must look like start:stop:step, e.g. 5:100:5")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"grid range {text!r} must contain numbers, e.g. 5:100:5") from None
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError(f"grid range {text!r} must contain finite numbers, e.g. 5:100:5")
        return cls(start=numbers[0], stop=numbers[1], step=numbers[2] if len(numbers) == 3 else 1)


def check_grid(strategy: str, grid: Mapping[str, GridAxis]) -> int:
    """Check every axis against its parameter's declared type and range; return the
    number of raw combinations (refused above :data:`MAX_COMBINATIONS`).

    >>> check_grid("ma_crossover", {"fast": GridAxis.parse("5:50:5")})
    10
    """
    from core.strategies.catalog import param_specs

    specs = param_specs(strategy)
    unknown = sorted(set(grid) - set(specs))
    if unknown:
        raise ValueError(f"{strategy} has no parameters {unknown}; use {sorted(specs)}")
    if not grid:
        raise ValueError("the grid needs at least one parameter range")
    for name, axis in grid.items():
        spec = specs[name]
        form = f"{name}={_g(axis.start)}:{_g(axis.stop)}:{_g(axis.step)}"
        if spec.kind not in ("int", "float"):
            raise ValueError(f"grid {form}: {name} is {spec.describe()}, not a numeric range")
        if spec.kind == "int" and not (
            float(axis.start).is_integer() and float(axis.step).is_integer()
        ):
            raise ValueError(
                f"grid {form}: {name} is an integer parameter; use integer start and step, "
                f"e.g. {name}=5:100:5"
            )
        if not (spec.contains(axis.start) and spec.contains(axis.last)):
            raise ValueError(
                f"grid {form} goes outside the valid range: {name} must be {spec.describe()}"
            )
    total = math.prod(axis.count for axis in grid.values())
    if total > MAX_COMBINATIONS:
        sizes = " x ".join(f"{axis.count:,} {name}" for name, axis in grid.items())
        raise ValueError(
            f"{total:,} combinations exceed {MAX_COMBINATIONS:,} ({sizes}); use larger steps"
        )
    return total


def check_bars(
    strategy: str, grid: Mapping[str, GridAxis], fixed: Mapping[str, Any], bars: int
) -> None:
    """Refuse window values (swept or fixed) longer than the ``bars`` of data.

    >>> from core.strategies.catalog import ParamRangeError
    >>> try:
    ...     check_bars("ts_momentum", {"lookback": GridAxis.parse("100:400:100")}, {}, 300)
    ... except ParamRangeError as exc:
    ...     print(exc.message.split("; ")[1])
    lookback must be an integer in [1, 300] (bars)
    """
    from core.strategies import STRATEGIES
    from core.strategies.catalog import ParamRangeError

    for name in STRATEGIES[strategy].windows:
        if name in grid:
            longest = grid[name].last
        elif name in fixed:
            longest = fixed[name]
        else:
            continue
        if longest > bars:
            raise ParamRangeError(
                name,
                f"{_g(longest)} bars is longer than the {bars} bars of data; "
                f"{name} must be an integer in [1, {bars}] (bars)",
            )


def grid_size(grid: Mapping[str, Sequence[Any] | np.ndarray]) -> int:
    """Number of raw combinations before constraints (exact: Python integers, no overflow).

    >>> grid_size({"fast": [5, 10], "slow": [20, 30, 40]})
    6
    """
    import numpy as np

    return math.prod(int(np.size(v)) for v in grid.values()) if grid else 0


__all__ = [
    "MAX_COMBINATIONS",
    "MAX_GRID_COMBINATIONS",
    "GridAxis",
    "check_bars",
    "check_grid",
    "grid_size",
]
