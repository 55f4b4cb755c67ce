"""The ``cli`` bench section: how long ``workbench`` commands take in a new process.

Each command runs as ``python -m app.cli ...`` in a subprocess (so core imports nothing of
app), against a fresh ``WORKBENCH_VAR_DIR`` that is migrated before the timed runs. Wall
time and the child's CPU time (user + system, less sensitive to other load) are reported
as median and p95, with the target and the ratio of the median to it. Whether imports read
compiled bytecode is recorded too (:func:`core.benchkit.has_bytecode`).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.benchkit import has_bytecode, percentiles

ROOT = Path(__file__).resolve().parents[1]

COMMANDS: dict[str, tuple[str, ...]] = {
    "help": ("--help",),
    "data_list": ("data", "list"),
    "risk_check": ("risk", "check", "--symbol", "SP500", "--qty", "10"),
    "sweep": ("sweep", "--grid", "fast=5:50:5", "--grid", "slow=60:200:20"),
    "backtest": ("backtest", "--start", "2015-01-01"),
}
"""The timed commands (a small sweep: 10 x 8 combinations on SP500)."""
TARGETS_S: dict[str, float | None] = {
    "help": 0.3,
    "data_list": 0.8,
    "risk_check": 0.8,
    "sweep": 1.0,
    "backtest": None,
}
"""Issue 11's targets for the median wall time (quiet 2-core machine); None: none set."""


def _run_once(args: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``python -m app.cli ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"workbench {' '.join(args)} failed: {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench_cli(
    *, repeats: int = 5, commands: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """Median and p95 wall and CPU seconds of each command in a new process.

    Parameters
    ----------
    repeats : int
        Timed runs per command (after one untimed run that migrates the database).
    commands : mapping, optional
        Name -> arguments; default :data:`COMMANDS`.
    """
    chosen = dict(commands or COMMANDS)
    report: dict[str, Any] = {
        "bytecode_cache": has_bytecode(),
        "repeats": repeats,
        "commands": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as var:
        env = {**os.environ, "WORKBENCH_VAR_DIR": var}
        env.pop("WORKBENCH_DB_URL", None)
        _run_once(("data", "list"), env)  # creates and migrates the database
        for name, args in chosen.items():
            walls, cpus = zip(*(_run_once(args, env) for _ in range(max(1, repeats))), strict=True)
            wall = percentiles(walls)
            target = TARGETS_S.get(name)
            report["commands"][name] = {
                "args": list(args),
                "wall_s": wall,
                "cpu_s": percentiles(cpus),
                "target_s": target,
                "median_to_target": None if target is None else wall["median"] / target,
            }
    return report


def summary(report: Mapping[str, Any]) -> str:
    """One digest line: each command's median wall (CPU) seconds against its target."""
    parts = []
    for name, row in report["commands"].items():
        target = f" (target < {row['target_s']:g})" if row["target_s"] is not None else ""
        parts.append(
            f"{name} {row['wall_s']['median']:.2f} s ({row['cpu_s']['median']:.2f} CPU){target}"
        )
    cache = "with" if report["bytecode_cache"] else "without"
    return f"cli, new process, {cache} bytecode caches: " + "; ".join(parts)


__all__ = ["COMMANDS", "TARGETS_S", "bench_cli", "summary"]
