"""Run the workbench CLI as a real subprocess, as a user would from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    *args: str, var: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m app.cli ARGS`` with ``WORKBENCH_VAR_DIR=var`` (plus ``env``)."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "WORKBENCH_VAR_DIR": str(var), **(env or {})},
        timeout=timeout,
    )


def start_worker(*args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m app.cli jobs worker --poll 0.2 ARGS`` in the background with the
    environment ``env``, its output appended to ``log``."""
    command = [sys.executable, "-m", "app.cli", "jobs", "worker", "--poll", "0.2", *args]
    with log.open("ab") as out:  # the worker keeps its own copy of the file
        return subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=out, stderr=out)
