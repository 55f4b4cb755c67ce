"""One measurement of the ``app`` bench, run in a fresh interpreter by :mod:`app.bench`.

``python -m app._bench_render list`` prints the router's pages; ``prime PAGE...`` renders
them once, untimed (bytecode, database migration); ``page PAGE REPEATS PROBES MODE
SESSIONS`` times the first AppTest render of ``pages/PAGE`` (``served``: after the
server's start-up warm-up, for ``SESSIONS`` fresh sessions; ``engine``: after the engine
warm-up too; ``cold``: before any) and
then ``REPEATS`` reruns, and, if ``PROBES`` > 0, clicks that land while the engine
warm-up is working; ``serve URL_PATH TIMEOUT SETTLE`` times a real ``streamlit run`` in
Chromium (:mod:`app._bench_serve`). The result is the last stdout line, prefixed with
:data:`MARK`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "app" / "main.py"
MARK = "APPBENCH "
#: Modules the first render of a page should not need (reported when it imports them).
HEAVY = (
    "hmmlearn",
    "matplotlib",
    "numba",
    "optuna",
    "plotly",
    "quantstats",
    "scipy",
    "sklearn",
    "statsmodels",
    "vectorbt",
    "xgboost",
    "yfinance",
)
TIMEOUT_S = 600.0


def _emit(payload: Any) -> None:
    sys.stdout.write(MARK + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _errors(at: Any) -> list[str]:
    return [str(getattr(e, "value", e))[:300] for e in at.exception]


def _pages() -> list[list[Any]]:
    from app.main import PAGES, WARM_ENGINE_FOR

    return [
        [url, file, title, url in WARM_ENGINE_FOR] for _section, file, title, _icon, url in PAGES
    ]


def _prime(files: list[str]) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT_S)
    errors: dict[str, list[str]] = {}
    for file in files:
        at.switch_page(str(ROOT / "pages" / file))
        at.run()
        errors[file] = _errors(at)
    return {"errors": errors}


def _probe(at: Any, clicks: int, first_end: float) -> dict[str, Any]:
    """Clicks landing while a warm-up step runs: wait for the warm-up to start a step
    (quiet period + 0.25 s), rerun, repeat; then wait until the engine is ready."""
    from app import warmup

    samples: list[float] = []
    deadline = time.monotonic() + 120.0
    if warmup.STATUS.started_at is None:  # this page does not start the warm-up
        deadline = 0.0
    while len(samples) < clicks and not warmup.STATUS.done and time.monotonic() < deadline:
        time.sleep(warmup.QUIET_S + 0.25)
        if warmup.STATUS.done:
            break
        start = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - start)
    while not warmup.STATUS.done and time.monotonic() < deadline:
        time.sleep(0.05)
    ready = warmup.STATUS.finished_at
    return {
        "click_during_warmup_s": samples,
        "engine_ready_after_first_render_s": None if ready is None else ready - first_end,
        "warmup_steps_done": list(warmup.STATUS.steps_done),
        "warmup_error": warmup.STATUS.error,
    }


def _heavy() -> set[str]:
    return {m for m in HEAVY if m in sys.modules}


def _warm_server() -> dict[str, Any]:
    """The server's start-up warm-up (:mod:`app.warm_start`) without the engine, in a
    thread named as in the server, waited for."""
    import threading

    from streamlit import config

    from app import warm_start

    # As AppTest's runs (a server has its runtime): no "run it with streamlit run" note.
    config.set_option("global.showWarningOnDirectExecution", False)
    start = time.perf_counter()
    thread = threading.Thread(target=warm_start.warm_pages, name=warm_start.THREAD_NAME)
    thread.start()
    thread.join()
    return {
        "server_warmup_s": time.perf_counter() - start,
        "server_warmup_steps": len(warm_start.STATUS.steps_done),
        "server_warmup_error": warm_start.STATUS.error,
    }


def _page(file: str, repeats: int, probes: int, mode: str, sessions: int) -> dict[str, Any]:
    """``mode`` ``served``: the server's warm-up of the pages first, then ``sessions``
    fresh sessions' first renders (the first one is the server's first visit); ``engine``:
    the same after the engine warm-up too (a server started a while ago); ``cold``: one
    first render in the fresh interpreter (a visit as the server starts, before any
    warm-up)."""
    from streamlit.testing.v1 import AppTest

    server_import_s = time.perf_counter() - _T0
    warm = _warm_server() if mode in ("served", "engine") else {}
    if mode == "engine":  # a server whose engine warm-up is over too
        from app import warmup

        start = time.perf_counter()
        thread = warmup.start(quiet_s=0.0)
        if thread is not None:
            thread.join()
        warm["engine_warmup_s"] = time.perf_counter() - start
    before = _heavy()
    firsts, first_cpus = [], []
    at: Any = None
    first_end = 0.0
    errors: list[str] = []
    for _ in range(max(1, sessions)):
        at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT_S)
        at.switch_page(str(ROOT / "pages" / file))
        wall, cpu = time.perf_counter(), time.process_time()
        at.run()
        firsts.append(time.perf_counter() - wall)
        first_cpus.append(time.process_time() - cpu)
        first_end = first_end or time.monotonic()
        errors += [e for e in _errors(at) if e not in errors]
    heavy = sorted(_heavy() - before)
    reruns, reruns_cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        at.run()
        reruns.append(time.perf_counter() - start)
        reruns_cpu.append(time.process_time() - start_cpu)
    out: dict[str, Any] = {
        "file": file,
        "mode": mode,
        "title": [t.value for t in at.title][:1],
        "server_import_s": server_import_s,
        **warm,
        "first_render_s": firsts[0],
        "first_render_cpu_s": first_cpus[0],
        "first_render_samples_s": firsts,
        "first_render_cpu_samples_s": first_cpus,
        "rerun_samples_s": reruns,
        "rerun_cpu_samples_s": reruns_cpu,
        "heavy_modules_imported_by_first_render": heavy,
        "errors": errors + [e for e in _errors(at) if e not in errors],
    }
    if probes > 0:
        out.update(_probe(at, probes, first_end))
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _visit(browser: Any, url: str, t0: float, timeout_s: float) -> dict[str, float]:
    """Open ``url`` in a new page; seconds from ``t0`` to the frame (the sidebar's
    heading), the page's title and the end of the script run."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    timeout = timeout_s * 1000
    try:
        opened = time.perf_counter() - t0
        page.goto(url, timeout=timeout)
        page.get_by_text("Trading Research Workbench").first.wait_for(timeout=timeout)
        frame = time.perf_counter() - t0
        page.locator("h1").first.wait_for(timeout=timeout)
        title = time.perf_counter() - t0
        idle = page.locator('[data-test-script-state="notRunning"]')
        idle.wait_for(state="attached", timeout=timeout)
        done = time.perf_counter() - t0
        return {
            "opened_s": opened,
            "frame_s": frame - opened,
            "title_s": title - opened,
            "idle_s": done - opened,
        }
    finally:
        page.close()


def _serve(url_path: str, timeout_s: float, settle_s: float) -> dict[str, Any]:
    """A real ``streamlit run app/main.py`` in Chromium: from the process start to its
    health check, then a visit to ``/url_path`` at once (the frame, the title, the end of
    the run), then a second visit in a new session ``settle_s`` seconds after the first.

    The jobs worker and the alert watchdog are not started (``WORKBENCH_JOBS_AUTOSTART=0``),
    so that no process outlives the bench.
    """
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    from core.config import get_settings

    port = _free_port()
    env = {**os.environ, "WORKBENCH_JOBS_AUTOSTART": "0"}
    base = f"http://127.0.0.1:{port}/"
    cmd = [sys.executable, "-m", "streamlit", "run", str(MAIN), "--server.port", str(port)]
    cmd += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(get_settings().chromium_path),
            args=["--no-sandbox"],
        )
        log = Path(os.environ["WORKBENCH_VAR_DIR"]) / "bench-serve.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as sink:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
            try:
                deadline = t0 + timeout_s
                while True:
                    try:
                        with urllib.request.urlopen(base + "_stcore/health", timeout=1):
                            break
                    except OSError as exc:
                        if time.perf_counter() > deadline or proc.poll() is not None:
                            tail = log.read_text()[-2000:]
                            raise RuntimeError(f"server did not start: {tail}") from exc
                        time.sleep(0.05)
                health = time.perf_counter() - t0
                first = _visit(browser, base + url_path, t0, timeout_s)
                time.sleep(settle_s)
                second = _visit(browser, base + url_path, t0, timeout_s)
            finally:
                proc.terminate()
                proc.wait(30)
        browser.close()
    text = log.read_text()
    return {
        "url_path": url_path,
        "health_s": health,
        "first_visit": first,
        "second_visit": second,
        "settle_s": settle_s,
        "server_log_tracebacks": text.count("Traceback"),
    }


def main(argv: list[str]) -> None:
    """Dispatch ``list``, ``prime`` or ``page`` (see the module docstring)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    command, args = argv[0], argv[1:]
    if command == "list":
        _emit(_pages())
    elif command == "prime":
        _emit(_prime(args))
    elif command == "page":
        _emit(_page(args[0], int(args[1]), int(args[2]), args[3], int(args[4])))
    elif command == "serve":
        _emit(_serve(args[0], float(args[1]), float(args[2])))
    else:
        raise SystemExit(f"unknown command {command!r}; use list, prime or page")


if __name__ == "__main__":
    main(sys.argv[1:])
