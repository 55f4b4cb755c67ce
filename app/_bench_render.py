"""One measurement of the ``app`` bench, run in a fresh interpreter by :mod:`app.bench`.

``python -m app._bench_render list`` prints the router's pages; ``prime PAGE...`` renders
them once, untimed (bytecode, database migration); ``page PAGE REPEATS PROBES`` times the
first AppTest render of ``pages/PAGE`` and then ``REPEATS`` reruns, and, if ``PROBES`` > 0,
clicks that land while the engine warm-up is working. The result is the last stdout line,
prefixed with :data:`MARK`.
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
#: Modules the first render of a page should not need (reported when present).
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


def _page(file: str, repeats: int, probes: int) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    server_import_s = time.perf_counter() - _T0
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT_S)
    at.switch_page(str(ROOT / "pages" / file))
    wall, cpu = time.perf_counter(), time.process_time()
    at.run()
    first_s = time.perf_counter() - wall
    first_cpu_s = time.process_time() - cpu
    first_end = time.monotonic()
    heavy = sorted(m for m in HEAVY if m in sys.modules)
    errors = _errors(at)
    reruns, reruns_cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        at.run()
        reruns.append(time.perf_counter() - start)
        reruns_cpu.append(time.process_time() - start_cpu)
    out: dict[str, Any] = {
        "file": file,
        "title": [t.value for t in at.title][:1],
        "server_import_s": server_import_s,
        "first_render_s": first_s,
        "first_render_cpu_s": first_cpu_s,
        "rerun_samples_s": reruns,
        "rerun_cpu_samples_s": reruns_cpu,
        "heavy_modules_after_first_render": heavy,
        "errors": errors + [e for e in _errors(at) if e not in errors],
    }
    if probes > 0:
        out.update(_probe(at, probes, first_end))
    return out


def main(argv: list[str]) -> None:
    """Dispatch ``list``, ``prime`` or ``page`` (see the module docstring)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    command, args = argv[0], argv[1:]
    if command == "list":
        _emit(_pages())
    elif command == "prime":
        _emit(_prime(args))
    elif command == "page":
        _emit(_page(args[0], int(args[1]), int(args[2])))
    else:
        raise SystemExit(f"unknown command {command!r}; use list, prime or page")


if __name__ == "__main__":
    main(sys.argv[1:])
