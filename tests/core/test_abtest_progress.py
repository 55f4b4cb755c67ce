"""Progress and cancellation hooks of the A/B bootstrap: they report and stop, and never
change a number (the bootstrap stays bit-identical for a seed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.abtest import bootstrap_ci, compare, sharpe_difference
from core.abtest.bootstrap import _CHUNK_ELEMENTS


class Stop(Exception):
    """Raised by a test's check to stop the work."""


def _pair(n: int, seed: int = 3) -> dict[str, pd.Series]:
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2010-01-01", periods=n)
    a = pd.Series(rng.normal(4e-4, 0.01, n), index=idx)
    return {"A": a, "B": 0.6 * a + pd.Series(rng.normal(0.0, 0.008, n), index=idx)}


def test_bootstrap_with_a_chunk_hook_is_bit_identical_and_reports_every_chunk() -> None:
    arms = _pair(2500)
    n_boot = 3000
    chunk = _CHUNK_ELEMENTS // 2500  # 800 replicates per chunk
    seen: list[tuple[int, int]] = []
    plain = bootstrap_ci(sharpe_difference, arms["A"], arms["B"], n_boot=n_boot, seed=11)
    hooked = bootstrap_ci(
        sharpe_difference,
        arms["A"],
        arms["B"],
        n_boot=n_boot,
        seed=11,
        on_chunk=lambda done, total: seen.append((done, total)),
    )
    assert hooked == plain  # every field, exactly (floats compared with ==)
    assert seen == [(chunk, n_boot), (2 * chunk, n_boot), (3 * chunk, n_boot), (n_boot, n_boot)]


def test_compare_with_hooks_equals_compare_without_and_progress_is_monotonic() -> None:
    arms = {**_pair(1500), "C": _pair(1500, seed=5)["B"]}
    plain = compare(arms, n_boot=1000, seed=4)
    steps: list[tuple[float, str]] = []
    checks: list[int] = []
    hooked = compare(
        arms,
        n_boot=1000,
        seed=4,
        progress=lambda f, m: steps.append((f, m)),
        check=lambda: checks.append(1),
    )
    assert hooked.model_dump() == plain.model_dump()
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] > 0
    # 1500 days: one chunk of 1000 resamples per bootstrap test; 3 pairs x 3 tests, then
    # one report after each pair
    assert len(steps) == 3 * 3 + 3
    assert steps[0] == (1 / 9, "pair 1/3 (A vs B): bootstrap test 1/3, 1,000/1,000 resamples")
    assert steps[-1] == (1.0, "pair 3/3 tested: B vs C")
    assert len(checks) == 3 + 9  # before each pair, after each chunk


def test_a_raising_check_stops_the_bootstrap_between_chunks() -> None:
    arms = _pair(4000)  # 500 resamples per chunk: four chunks per test
    checks: list[int] = []
    messages: list[str] = []

    def check() -> None:
        checks.append(1)
        if len(checks) == 3:  # before the pair, after chunk 1, after chunk 2
            raise Stop

    with pytest.raises(Stop):
        compare(arms, n_boot=2000, seed=0, progress=lambda f, m: messages.append(m), check=check)
    assert messages == [
        "pair 1/1 (A vs B): bootstrap test 1/3, 500/2,000 resamples",
        "pair 1/1 (A vs B): bootstrap test 1/3, 1,000/2,000 resamples",
    ]


def test_primary_only_reports_each_pair() -> None:
    steps: list[float] = []
    compare(_pair(300), secondary=False, progress=lambda f, m: steps.append(f))
    assert steps == [1.0]
