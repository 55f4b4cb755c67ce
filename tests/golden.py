"""Comparing a golden value that holds on every x86-64 CPU and still catches a real change.

NumPy's OpenBLAS picks a kernel for the CPU it runs on (``OPENBLAS_CORETYPE`` forces one:
SkylakeX, Haswell, Zen, Sandybridge, Prescott, ...). Kernels sum in different orders, so a
result of LAPACK/BLAS (`eigvalsh`, a matrix product in a model fit) moves in its last bits
from one CPU to another, and every value computed from it follows. Measured on the
walk-forward cases and the paper ledger across those five kernels: at most 3e-13 relative
on the walk-forward metrics, 5e-12 on the paper worker's position sizes (through the regime
model), and 4e-16 absolute on a value near zero (a return that is the difference of two
close numbers, 1e-10 relative there).

``REL`` sits 200 times above the largest relative noise and ``ABS`` 2,500 times above the
absolute one, while a real change (a fee off by 1e-6, one price off by 1e-7) moves the
metrics by 1e-8 relative or more. Floats are compared with a tolerance rather than hashed after
rounding: a value a kernel nudges across a rounding edge flips a hash (at 10 significant
digits and 1e-13 noise, about one value in 1,000 does), a tolerance has no edge. Everything
else (integers, counts, ids, strings, dates, a series' index) is compared exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

REL = 1e-9
"""Relative tolerance of a float (kernel noise: at most 5e-12)."""
ABS = 1e-12
"""Absolute tolerance, for values at or near zero where a relative one means nothing
(kernel noise there: at most 4e-16)."""


def mismatches(
    got: Any, want: Any, rel: float = REL, abs_: float = ABS, path: str = ""
) -> list[str]:
    """Where ``got`` differs from ``want``: floats beyond ``rel``/``abs_`` (NaN equals NaN),
    anything else (integers, strings, None, the series' index) exactly."""
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            return [f"{path}: keys {sorted(got)} != {sorted(want)}"]
        return [m for k in want for m in mismatches(got[k], want[k], rel, abs_, f"{path}/{k}")]
    if isinstance(want, np.ndarray) and isinstance(got, np.ndarray):
        if got.shape != want.shape or (want.dtype.kind != "f" and got.dtype != want.dtype):
            return [f"{path}: {got.dtype}{got.shape} != {want.dtype}{want.shape}"]
        if want.dtype.kind != "f":
            bad = np.flatnonzero(got != want)
        else:
            close = np.isclose(got, want, rtol=rel, atol=abs_, equal_nan=True)
            bad = np.flatnonzero(~close)
        return [f"{path}[{i}]: {got[i]!r} != {want[i]!r}" for i in bad[:5]]
    if isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items != {len(want)}"]
        pairs = enumerate(zip(got, want, strict=True))
        return [m for i, (g, w) in pairs for m in mismatches(g, w, rel, abs_, f"{path}/{i}")]
    if isinstance(want, float) and isinstance(got, float):
        same = (math.isnan(got) and math.isnan(want)) or math.isclose(
            got, want, rel_tol=rel, abs_tol=abs_
        )
        return [] if same else [f"{path}: {got!r} != {want!r}"]
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} != {want!r}"]
    return []
