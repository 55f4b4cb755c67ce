"""The ``app`` section of ``workbench bench``: first render and reruns of every page.

Each page is measured in a fresh interpreter (so import costs count) with Streamlit's
``AppTest``: the first render, then reruns (median, p95). The run of the first page that
starts the background engine warm-up (:mod:`app.warmup`; the Backtest page) then clicks
every 1.25 s while the warm-up works. Targets: first render < 1.5 s, rerun < 300 ms.

The Regimes page is measured twice: with its store of fitted histories empty (a fresh
install's first visit without ``workbench setup``: the fit itself) and with the default
fit stored (as ``workbench setup`` leaves it; the figure in ``pages``). The untimed
priming pass would fill the store, so it is emptied before the first of the two.

The pages run against a fresh runtime folder (SQLite), so the bench never touches the
user's database. Where the environment forbids writing bytecode
(``PYTHONDONTWRITEBYTECODE``) and none was compiled at install (``make install``,
``make setup``), the children keep it under ``var/bench/pycache`` instead
(``PYTHONPYCACHEPREFIX``): an installed app has its bytecode, and recompiling every
module on each start would be measured instead of the app. AppTest runs the script
without a websocket: a click during the warm-up costs more in a real server, where each
delta also passes through the server's event loop (0.3-0.8 s against AppTest's 0.05-0.2 s).

:data:`SECTIONS` is :data:`core.bench.SECTIONS` plus ``app`` and ``api`` (core cannot
import app).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.bench_api import bench_api
from app.bench_api import summary as api_summary
from core import bench as core_bench
from core.benchkit import has_bytecode, percentiles

if TYPE_CHECKING:
    from app.operations.system import BenchRequest

ROOT = Path(__file__).resolve().parents[1]
TARGET_FIRST_RENDER_S = 1.5
TARGET_RERUN_S = 0.3
MARK = "APPBENCH "  # as in app._bench_render
REGIME_PAGE = "regime"  # url path of the page measured with an empty and a stored fit
_PROBE_KEYS = ("engine_ready_after_first_render_s", "warmup_steps_done", "warmup_error")


def _child_env(var_dir: Path) -> dict[str, str]:
    from core.config import get_settings

    env = dict(os.environ)
    env["WORKBENCH_VAR_DIR"] = str(var_dir)
    env.pop("WORKBENCH_DB_URL", None)
    env.setdefault("MPLBACKEND", "Agg")
    no_writes = env.get("PYTHONDONTWRITEBYTECODE") and "PYTHONPYCACHEPREFIX" not in env
    if no_writes and not has_bytecode():
        env.pop("PYTHONDONTWRITEBYTECODE")
        env["PYTHONPYCACHEPREFIX"] = str(get_settings().var_dir / "bench" / "pycache")
    return env


def _child(args: list[str], env: dict[str, str]) -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "app._bench_render", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=1800,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"app bench child {args} failed: {proc.stderr[-2000:]}")
    return json.loads(lines[-1][len(MARK) :])


def bench_app(
    *, repeats: int = 7, pages: list[str] | None = None, probe_clicks: int = 5
) -> dict[str, Any]:
    """First render and reruns of every page (or of ``pages``, by url path), each in a
    fresh interpreter.

    Parameters
    ----------
    repeats : int
        Reruns timed per page.
    pages : list of str, optional
        Url paths (``"data"``, ``"backtest"``...); default every page of the router.
    probe_clicks : int
        Clicks timed while the engine warm-up works, on the first page that starts it
        (``app.main.WARM_ENGINE_FOR``; 0: skip).
    """
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="workbench-appbench-") as tmp:
        env = _child_env(Path(tmp) / "var")
        registry = _child(["list"], env)
        chosen = [p for p in registry if pages is None or p[0] in pages]
        if not chosen:
            raise ValueError(f"no such pages {pages}; choose from {[p[0] for p in registry]}")
        primed = _child(["prime", *(file for _url, file, _title, _warms in chosen)], env)
        probe_page = next((url for url, _file, _title, warms in chosen if warms), None)
        results: dict[str, dict[str, Any]] = {}
        probe: dict[str, Any] = {}
        regime_empty: dict[str, Any] | None = None
        for url, file, _title, _warms in chosen:
            if url == REGIME_PAGE:  # the priming pass stored its fit: measure without it
                shutil.rmtree(Path(env["WORKBENCH_VAR_DIR"]) / "cache" / "regimes", True)
                regime_empty = _child(["page", file, "1", "0"], env)
            probes = probe_clicks if url == probe_page else 0
            raw = _child(["page", file, str(repeats), str(probes)], env)
            raw["rerun_s"] = percentiles(raw.pop("rerun_samples_s"))
            raw["rerun_cpu_s"] = percentiles(raw.pop("rerun_cpu_samples_s"))
            if probes:
                clicks = raw.pop("click_during_warmup_s")
                probe = {
                    "page": url,
                    "click_s": percentiles(clicks) if clicks else None,
                    **{k: raw.pop(k) for k in _PROBE_KEYS},
                }
            results[url] = raw
    report = _summarize(results, probe, primed, env, load_start, repeats)
    if regime_empty is not None:
        stored = results[REGIME_PAGE]
        report["regime_first_render"] = {
            "empty_store_s": regime_empty["first_render_s"],
            "empty_store_cpu_s": regime_empty["first_render_cpu_s"],
            "stored_s": stored["first_render_s"],
            "stored_cpu_s": stored["first_render_cpu_s"],
            "empty_store_ratio_to_target": regime_empty["first_render_s"] / TARGET_FIRST_RENDER_S,
            "stored_ratio_to_target": stored["first_render_s"] / TARGET_FIRST_RENDER_S,
            "target_s": TARGET_FIRST_RENDER_S,
            "errors": regime_empty["errors"],
        }
    return report


def _summarize(
    results: dict[str, dict[str, Any]],
    probe: dict[str, Any],
    primed: dict[str, Any],
    env: dict[str, str],
    load_start: tuple[float, float, float],
    repeats: int,
) -> dict[str, Any]:
    first = {url: r["first_render_s"] for url, r in results.items()}
    rerun = {url: r["rerun_s"]["p95"] for url, r in results.items()}
    worst_first = max(first, key=first.__getitem__)
    worst_rerun = max(rerun, key=rerun.__getitem__)
    return {
        "target_first_render_s": TARGET_FIRST_RENDER_S,
        "target_rerun_s": TARGET_RERUN_S,
        "pages": results,
        "max_first_render_s": first[worst_first],
        "max_first_render_page": worst_first,
        "max_first_render_ratio_to_target": first[worst_first] / TARGET_FIRST_RENDER_S,
        "median_first_render_s": percentiles(list(first.values()))["median"],
        "max_first_render_cpu_s": max(r["first_render_cpu_s"] for r in results.values()),
        "max_rerun_p95_s": rerun[worst_rerun],
        "max_rerun_page": worst_rerun,
        "max_rerun_ratio_to_target": rerun[worst_rerun] / TARGET_RERUN_S,
        "pages_over_first_render_target": sorted(
            u for u, s in first.items() if s >= TARGET_FIRST_RENDER_S
        ),
        "pages_over_rerun_target": sorted(u for u, s in rerun.items() if s >= TARGET_RERUN_S),
        "warmup_probe": probe,
        "prime_errors": {k: v for k, v in primed["errors"].items() if v},
        "environment": {
            "cpus": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "reruns_per_page": repeats,
            "pycache_prefix": env.get("PYTHONPYCACHEPREFIX"),
        },
    }


def summary(report: dict[str, Any]) -> str:
    """Digest lines of an ``app`` report."""
    probe = report.get("warmup_probe") or {}
    click = probe.get("click_s")
    ready = probe.get("engine_ready_after_first_render_s")
    lines = [
        f"app first render: max {report['max_first_render_s']:.2f} s "
        f"({report['max_first_render_page']}), median {report['median_first_render_s']:.2f} s "
        f"over {len(report['pages'])} pages, max CPU {report['max_first_render_cpu_s']:.2f} s "
        f"(target < {report['target_first_render_s']:g} s; "
        f"over: {', '.join(report['pages_over_first_render_target']) or 'none'})",
        f"app rerun p95: max {report['max_rerun_p95_s'] * 1000:.0f} ms "
        f"({report['max_rerun_page']}) (target < {report['target_rerun_s'] * 1000:.0f} ms)",
    ]
    regime = report.get("regime_first_render")
    if regime:
        lines.append(
            f"app Regimes first render: {regime['empty_store_s']:.2f} s with the store empty "
            f"(CPU {regime['empty_store_cpu_s']:.2f} s), {regime['stored_s']:.2f} s with the "
            f"default fit stored, as setup leaves it (CPU {regime['stored_cpu_s']:.2f} s; "
            f"target < {regime['target_s']:g} s)"
        )
    if click:
        lines.append(
            f"app click during the engine warm-up: {click['median'] * 1000:.0f} ms median, "
            f"p95 {click['p95'] * 1000:.0f} ms; engine ready "
            + (f"{ready:.1f} s after the first render" if ready is not None else "never")
        )
    return "\n".join(lines)


SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    **core_bench.SECTIONS,
    "app": bench_app,
    "api": bench_api,  # app/bench_api.py: the REST API under a local load
}


def summary_text(report: dict[str, Any]) -> str:
    """:func:`core.bench.summary_text` plus the ``app`` lines."""
    text = core_bench.summary_text(report)
    if "app" in report:
        text = "\n".join(filter(None, [text, summary(report["app"])]))
    if "api" in report:
        text = "\n".join(filter(None, [text, api_summary(report["api"])]))
    return text


def run(request: BenchRequest) -> dict[str, object]:
    """Run the benchmark sections a :class:`~app.operations.system.BenchRequest` names
    (the ``bench`` operation: core's sections plus the ``app`` and ``api`` ones, which
    core cannot import; here rather than in app/services, which the API bench drives)."""
    sections = request.only or list(SECTIONS)
    report: dict[str, object] = {}
    if request.peers:  # not a default section; first, so a missing package fails at once
        from core.bench_peers import bench_peers

        report["peers"] = bench_peers(repeats=request.repeats)
    report |= {name: SECTIONS[name](repeats=request.repeats) for name in sections}
    return report
