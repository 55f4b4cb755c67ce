"""The pre-trade check's 95% historical VaR equals numpy's quantile float for float."""

from __future__ import annotations

import math

import numpy as np

from core.risk._kernels import historical_var
from core.risk.pretrade import _historical_var_95


def test_fast_var_equals_numpy_quantile_bit_for_bit() -> None:
    rng = np.random.default_rng(11)
    for n in [*range(1, 60), 120, 249, 250, 251]:
        for scale in (1e-3, 1e-2, 1.0):
            r = rng.standard_normal(n) * scale
            if n % 3 == 0:
                r = np.round(r, 3)  # ties
            assert _historical_var_95(r) == historical_var(r)
    with_nan = np.array([0.01, math.nan, -0.02, 0.03] * 10)
    assert math.isnan(_historical_var_95(with_nan))
    assert math.isnan(historical_var(with_nan))
