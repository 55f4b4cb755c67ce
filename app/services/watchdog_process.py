"""The alert watchdog's process: its pid file, whether one is alive, and starting one
detached (re-exported by :mod:`app.services.watchdog`)."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

from app.services.jobs_supervisor import autostart_enabled, pid_alive, start_detached
from core.config import get_settings

AUTOSTART_ENV = "WORKBENCH_WATCHDOG_AUTOSTART"


def pid_file() -> Path:
    """Where the running watchdog keeps its pid."""
    return get_settings().var_dir / "alerts_watchdog.pid"


def watchdog_alive() -> bool:
    """Whether a watchdog process is running on this host (its pid file's pid lives)."""
    try:
        return pid_alive(int(pid_file().read_text().strip()))
    except (OSError, ValueError):
        return False


def ensure_watchdog() -> bool:
    """Start ``workbench alerts watch`` detached unless one runs; True if started.
    Off with WORKBENCH_WATCHDOG_AUTOSTART=0 or WORKBENCH_JOBS_AUTOSTART=0 (tests)."""
    off = os.environ.get(AUTOSTART_ENV, "1").strip().lower() in ("0", "false", "no", "off")
    if off or not autostart_enabled():
        return False
    lock = pid_file().with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if watchdog_alive():
            return False
        command = [sys.executable, "-m", "app.cli", "alerts", "watch"]
        pid = start_detached(command, log=get_settings().var_dir / "alerts_watchdog.log")
        pid_file().write_text(str(pid))
    return True
