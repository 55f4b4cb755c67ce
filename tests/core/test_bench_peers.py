"""The peer bench's pieces that need no peer package and no network: the table formatter,
the on-demand installer's refusals, the cross entry rule against vectorbt's own signals and
the pinned extra. Nothing here installs a package or times anything."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.bench import summary_text
from core.bench_peers import (
    FAST,
    PEER_REQUIREMENTS,
    SLOW,
    PeerUnavailable,
    cross_positions,
    ensure_peers,
    grid,
    peer_summary,
    peer_table,
)

ROOT = Path(__file__).resolve().parents[2]
MISSING = {"no_such_module_for_the_peer_bench": "no-such-package-for-the-peer-bench==0.0.1"}


def _report() -> dict[str, Any]:
    """A hand-made peer report (made-up numbers) in the shape bench_peers returns."""
    best = {"total_return": [33, 220], "sharpe": [33, 220]}
    return {
        "workload": {"symbol": "SP500", "bars": 5031, "combinations": 2258, "fees": 0.0005,
                     "slippage": 0.0005, "init_cash": 100_000.0, "execution": "next open"},
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 24.0},
        "versions": {"vectorbt": "1.2.0", "backtesting": "0.6.6", "numpy": "2.0",
                     "pandas": "2.2", "numba": "0.60", "python": "3.11.9"},
        "workbench": {"sweep_seconds": {"median": 0.2, "p95": 0.3, "p99": 0.3, "n": 3},
                      "combinations_per_s": 11290.0, "metrics_per_combination": 11,
                      "cold_new_process": {"total_s": 2.5}},
        "vectorbt": {"warm_seconds": {"median": 3.0, "p95": 3.1, "p99": 3.1, "n": 3},
                     "combinations_per_s": 752.7, "metrics_per_combination": 2,
                     "cold_new_process": {"total_s": 20.0}},
        "backtesting": {"processes": 2, "stride": 10, "subset_combinations": 226,
                        "seconds": {"median": 6.6, "p95": 7.0, "p99": 7.0, "n": 3},
                        "combinations_per_s": 34.2, "full_grid_seconds_extrapolated": 66.0},
        "ratios": {"workbench_vs_vectorbt_warm": 15.0, "workbench_vs_vectorbt_cold": 8.0,
                   "workbench_vs_backtesting": 330.1},
        "agreement": {
            "best": {"workbench_state": {"total_return": [59, 196], "sharpe": [59, 196]},
                     "workbench_cross": best, "vectorbt": best,
                     "workbench_cross_on_backtesting_subset": {"total_return": [31, 220]},
                     "backtesting_on_subset": {"total_return": [31, 220]}},
            "vectorbt_equals_workbench_cross": True,
            "backtesting_equals_workbench_cross_on_subset": True,
            "vectorbt_vs_workbench_cross_max_rel_diff": 1.1e-15,
            "backtesting_vs_workbench_cross_max_rel_diff": 5.0e-4,
            "backtesting_vs_workbench_cross_max_rel_diff_flat_at_end": 2.0e-6,
            "backtesting_vs_workbench_cross_max_rel_diff_open_at_end": 5.0e-4,
            "backtesting_pairs_open_at_end": 150,
        },
    }  # fmt: skip


def test_peer_table_is_a_markdown_table_with_the_ratios_and_best_pairs() -> None:
    table = peer_table(_report())
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) == 5  # header, rule, workbench, vectorbt, backtesting.py
    assert {row.count("|") for row in rows} == {8}  # 7 columns in every row
    workbench, vectorbt, backtesting = rows[2:]
    assert "11,290" in workbench and "59/196 (state)" in workbench and "33/220 (cross)" in workbench
    assert "1.2.0" in vectorbt and "15.0×" in vectorbt and "8.0× the workbench's" in vectorbt
    assert "0.6.6" in backtesting and "330×" in backtesting and "34.2" in backtesting
    assert "every 10th pair (226)" in table and "1.1e-15" in table and "150 still long" in table
    assert "Machine: Test CPU, 2 cores, 24.0 GB" in table


def test_bench_digest_has_one_peer_line_then_the_table() -> None:
    report = _report()
    report |= {"digest": peer_summary(report), "table_markdown": peer_table(report)}
    text = summary_text({"peers": report})
    first = text.splitlines()[0]
    assert first.startswith("peers: workbench sweep 11,290 combos/s, 15.0x vectorbt warm, 330x")
    assert first.endswith("under the cross rule: yes")
    assert text == first + "\n" + peer_table(report)


def test_the_peer_grid_is_the_research_grid() -> None:
    assert FAST[0] == 5 and FAST[-1] == 103 and SLOW[0] == 20 and SLOW[-1] == 412
    assert len(grid()[0]) == 2258 and bool(np.all(grid()[0] < grid()[1]))


def test_a_missing_peer_is_refused_with_the_command_when_installing_is_off() -> None:
    with pytest.raises(PeerUnavailable, match=r"not installed: no-such-package.*pip install"):
        ensure_peers(MISSING, install=False)


def test_a_failing_installer_is_reported_as_a_clear_error() -> None:
    offline = [sys.executable, "-c", "import sys; sys.exit('error: network is unreachable')"]
    said: list[str] = []
    with pytest.raises(PeerUnavailable, match=r"offline.*network is unreachable.*pip install"):
        ensure_peers(MISSING, installer=offline, log=said.append)
    assert len(said) == 1 and "no-such-package-for-the-peer-bench==0.0.1" in said[0]


def test_present_modules_need_no_installer() -> None:
    never = [sys.executable, "-c", "raise SystemExit('the installer must not run')"]
    assert ensure_peers({"numpy": "numpy"}, installer=never) == {"numpy": np.__version__}


def test_the_extra_pins_what_the_installer_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["peers"] == [PEER_REQUIREMENTS["backtesting"]]
    lock = (ROOT / "requirements.lock").read_text()
    assert "\nbacktesting==" not in lock  # the lock pins the dev extra only


def test_cross_positions_follow_vectorbt_crossover_signals() -> None:
    import vectorbt as vbt

    rng = np.random.default_rng(9)  # a seed where fast starts above slow on two pairs
    close = 100 * np.exp(np.cumsum(rng.normal(0.001, 0.01, 800)))
    fast, slow = np.array([3, 5, 10, 20]), np.array([12, 30, 40, 90])
    ours = cross_positions(close, fast, slow)
    for j, (f, s) in enumerate(zip(fast, slow, strict=True)):
        fast_ma, slow_ma = vbt.MA.run(close, int(f)), vbt.MA.run(close, int(s))
        up = fast_ma.ma_crossed_above(slow_ma).to_numpy()
        down = fast_ma.ma_crossed_below(slow_ma).to_numpy()
        held, expected = 0.0, np.zeros(len(close))
        for t in range(len(close)):
            held = 1.0 if up[t] else 0.0 if down[t] else held
            expected[t] = held
        np.testing.assert_array_equal(ours[:, j], expected)
    hold = [vbt.MA.run(close, int(f)).ma_above(vbt.MA.run(close, int(s))).to_numpy()
            for f, s in zip(fast, slow, strict=True)]  # fmt: skip
    differs = [not np.array_equal(ours[:, j], h) for j, h in enumerate(hold)]
    assert any(differs) and not all(differs)  # the rules differ on some pairs, not on others


def test_cross_positions_skip_only_a_run_already_under_way() -> None:
    # fast (1) above slow (2) from the first bar both exist: that run is skipped
    close = np.array([1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 3.0, 4.0])
    got = cross_positions(close, np.array([1]), np.array([2]))[:, 0]
    np.testing.assert_array_equal(got, [0, 0, 0, 0, 0, 0, 1, 1])
    # below at the first bar both exist: the first cross above is taken
    close = np.array([4.0, 3.0, 2.0, 3.0, 4.0])
    got = cross_positions(close, np.array([1]), np.array([2]))[:, 0]
    np.testing.assert_array_equal(got, [0, 0, 0, 1, 1])
