"""Run the workbench CLI as a real subprocess, as a user would from a shell."""

from __future__ import annotations

import os
import subprocess
import sys
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
