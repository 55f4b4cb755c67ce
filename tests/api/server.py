"""A real ``workbench api`` process on 127.0.0.1 for the API tests, the client and the notebook."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveApi:
    """A running API: its base URL and the process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def live_api(
    var_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[LiveApi]:
    """Start ``workbench api`` on a free port with ``var_dir`` as its runtime folder; wait
    for ``/healthz``; stop it at the end (its log is kept in ``var_dir``)."""
    port = free_port()
    var_dir.mkdir(parents=True, exist_ok=True)
    log = var_dir / "api.log"
    environ = {**os.environ, "WORKBENCH_VAR_DIR": str(var_dir), **(env or {})}
    command = [sys.executable, "-m", "app.cli", "api", "--port", str(port)]
    command += ["--workers", str(workers)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the API exited ({process.returncode}): {log.read_text()}")
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, "the API to answer /healthz", timeout_s=120)
        yield LiveApi(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
