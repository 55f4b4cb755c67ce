"""Browser suite: a real ``streamlit run app/main.py`` on 127.0.0.1, driven by Playwright in
Debian's ``chromium`` (Playwright's own browser download is not used).

Each test module gets its own server process with its own runtime folder and SQLite database
(``server``), set up as ``make run`` does (``workbench setup --no-warm --no-regimes``), with the
jobs worker autostarting as in production. Each test gets a fresh browser context (``page``
at 1280 x 900, ``narrow_page`` at 800 x 900). On failure, a screenshot, the browser console and
the server log's tail are written to ``test-artifacts/browser/<test>/``; CI keeps that folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import RUN_COUNTER
from tests.polling import wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
START_TIMEOUT_S = 120.0
#: Lines in the server's log that fail the module: a Python traceback, or a Streamlit warning.
LOG_DEFECTS = re.compile(
    r"Traceback \(most recent call last\)"
    r"|was created with a default value but also had its value set"
    r"|Please replace `use_container_width`"
    r"|Serialization of dataframe to Arrow table was unsuccessful"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

pytest.importorskip("playwright.sync_api")


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = (
            "Debian's chromium is not installed (apt-get install chromium); .ci/run installs it"
        )
        if os.environ.get("WORKBENCH_CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One ``streamlit run`` of the app and the environment of its runtime folder."""

    base: str
    var_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    cli_calls: list[list[str]] = field(default_factory=list)

    def url(self, path: str = "") -> str:
        """The address of ``path`` (a page's URL path, e.g. ``"data"``) on this server."""
        return f"{self.base}/{path.lstrip('/')}"

    def log_text(self) -> str:
        """Everything the server has written to stdout and stderr so far."""
        return self.log_path.read_text(errors="replace")

    def cli(self, *args: str, timeout_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run ``workbench ARGS`` against this server's database; fails on a non-zero exit."""
        command = [sys.executable, "-m", "app.cli", *args]
        self.cli_calls.append(list(args))
        done = subprocess.run(
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )
        if done.returncode != 0:
            pytest.fail(
                f"workbench {' '.join(args)} exited {done.returncode}\n"
                f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
            )
        return done


def _server_env(var_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    for kept in ("WORKBENCH_CI",):
        if kept in os.environ:
            env[kept] = os.environ[kept]
    env.update(
        WORKBENCH_VAR_DIR=str(var_dir),
        WORKBENCH_JOBS_AUTOSTART="1",
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A ``streamlit run`` of the app on a free loopback port, with its own database."""
    _chromium()
    extra: dict[str, str] = dict(getattr(request.module, "SERVER_ENV", {}))
    folder = tmp_path_factory.mktemp("browser_server")
    var_dir = folder / "var"
    port = _free_port()
    env = _server_env(var_dir, extra)
    log_path = folder / "streamlit.log"
    running = Server(f"http://127.0.0.1:{port}", var_dir, env, log_path)
    running.cli("setup", "--no-warm", "--no-regimes")
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "main.py"),
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        running.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: _healthy(running), timeout_s=START_TIMEOUT_S, what="streamlit server health"
        )
        yield running
    finally:
        running.process.terminate()
        try:
            running.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(timeout=20)
        stop_detached_processes(var_dir)
    defects = [line for line in running.log_text().splitlines() if LOG_DEFECTS.search(line)]
    if defects:
        _save_server_log(request.node.name, running)
        pytest.fail(
            "the server logged a traceback or a warning:\n"
            + "\n".join(defects[:10])
            + f"\n(full log in {ARTIFACTS / _slug(request.node.name)})"
        )


def _processes_of(var_dir: Path) -> list[int]:
    """Pids whose environment points WORKBENCH_VAR_DIR at ``var_dir`` (Linux /proc)."""
    marker = f"WORKBENCH_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours
            continue
        if marker in environ:
            found.append(int(entry.name))
    return found


def stop_detached_processes(var_dir: Path, grace_s: float = 15.0) -> None:
    """Stop what the server started detached (jobs worker, alerts watchdog, paper workers,
    their Dask workers): they outlive a server by design, but not a test's runtime folder."""
    import signal

    pids = _processes_of(var_dir)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        wait_until(lambda: not _processes_of(var_dir), timeout_s=grace_s, what="workers to stop")
    except AssertionError:
        for pid in _processes_of(var_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _healthy(running: Server) -> bool:
    import urllib.request

    assert running.process is not None
    if running.process.poll() is not None:
        raise AssertionError(
            f"streamlit exited {running.process.returncode}:\n{running.log_text()}"
        )
    try:
        with urllib.request.urlopen(running.url("_stcore/health"), timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """``expect`` waits up to 60 s here: a page's run after a click on a two-core machine that
    also runs the rest of the suite (a ceiling, not a delay: it returns as soon as it holds)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian chromium per test process."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so fixtures can tell a failure at teardown."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


def _save_server_log(name: str, running: Server) -> None:
    folder = ARTIFACTS / _slug(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.log").write_text(running.log_text())


class PageRecord:
    """What a page printed to its console and which JavaScript errors it raised."""

    def __init__(self) -> None:
        self.console: list[str] = []
        self.errors: list[str] = []


def _open_page(
    browser: Any, request: pytest.FixtureRequest, server: Server, width: int
) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    context.set_default_timeout(60_000)
    context.add_init_script(script=RUN_COUNTER)
    page = context.new_page()
    record = PageRecord()
    page.on("console", lambda message: record.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: record.errors.append(str(error)))
    page.record = record  # type: ignore[attr-defined]
    page.server = server  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        failed = getattr(request.node, "report_call", None)
        if (failed is not None and failed.failed) or record.errors:
            folder = ARTIFACTS / _slug(f"{request.node.name}_{width}")
            folder.mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(folder / "screenshot.png"), full_page=True)
            except Exception as exc:  # a crashed page still gets its console saved
                (folder / "screenshot_error.txt").write_text(str(exc))
            (folder / "console.txt").write_text("\n".join(record.console + record.errors))
            (folder / "server_tail.log").write_text(server.log_text()[-20_000:])
        context.close()
    assert not record.errors, f"JavaScript errors in the page: {record.errors}"


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, server: Server) -> Iterator[Any]:
    """A fresh browser tab at 1280 x 900 (its own cookies and session)."""
    yield from _open_page(browser, request, server, 1280)


@pytest.fixture
def narrow_page(browser: Any, request: pytest.FixtureRequest, server: Server) -> Iterator[Any]:
    """A fresh browser tab at 800 x 900."""
    yield from _open_page(browser, request, server, 800)
