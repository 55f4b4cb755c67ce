"""The ``app`` section of ``workbench bench``: first render and reruns of every page.

Each page is measured in a fresh interpreter with Streamlit's ``AppTest``, as a server
sees it: the server's start-up warm-up first (:mod:`app.warm_start`: the pages' imports
and the shared caches; timed apart), then the first render of a few fresh sessions (the
first one is the server's first visit) and reruns (median, p95 of each). Targets, on the
p95: first render < 1.5 s, rerun < 300 ms; each page passes or fails. The first page is
also rendered once without the warm-up (``cold``: a visit at the server's very start, or
a server without the warm-up), and a real ``streamlit run`` is timed in Chromium: from
the process start to the health check, to the frame and to the end of a visit made at
once, and of a second visit later. The run of the first page that starts the background
engine warm-up (:mod:`app.warmup`; the Backtest page) then clicks every 1.25 s while the
warm-up works; the other pages that backtest (A/B compare) are measured after the engine
warm-up, as a server started a while ago has it.

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


def _page_result(raw: dict[str, Any]) -> dict[str, Any]:
    raw["first_render_stats_s"] = percentiles(raw.pop("first_render_samples_s"))
    raw["first_render_cpu_stats_s"] = percentiles(raw.pop("first_render_cpu_samples_s"))
    raw["rerun_s"] = percentiles(raw.pop("rerun_samples_s"))
    raw["rerun_cpu_s"] = percentiles(raw.pop("rerun_cpu_samples_s"))
    raw["first_render_pass"] = raw["first_render_stats_s"]["p95"] < TARGET_FIRST_RENDER_S
    raw["rerun_pass"] = raw["rerun_s"]["p95"] < TARGET_RERUN_S
    return raw


def _browser_run(url: str, settle_s: float, env: dict[str, str]) -> dict[str, Any]:
    """The ``serve`` child, or why it cannot run here (no Playwright, no Chromium)."""
    import importlib.util

    from core.config import get_settings

    chromium = get_settings().chromium_path
    if importlib.util.find_spec("playwright") is None:
        return {"skipped": "Playwright is not installed (the dev extra)"}
    if not chromium.is_file():
        return {"skipped": f"no Chromium at {chromium} (WORKBENCH_CHROMIUM_PATH)"}
    result: dict[str, Any] = _child(["serve", url, "300", str(settle_s)], env)
    return result


def bench_app(
    *,
    repeats: int = 7,
    pages: list[str] | None = None,
    probe_clicks: int = 5,
    sessions: int = 3,
    cold: bool = True,
    browser: bool = True,
    settle_s: float = 15.0,
) -> dict[str, Any]:
    """First renders and reruns of every page (or of ``pages``, by url path), each page
    in a fresh interpreter that first runs the server's start-up warm-up; the first page
    also without it (``cold``); then, with ``browser``, a real server in Chromium.

    Parameters
    ----------
    repeats : int
        Reruns timed per page.
    pages : list of str, optional
        Url paths (``"data"``, ``"backtest"``...); default every page of the router.
    probe_clicks : int
        Clicks timed while the engine warm-up works, on the first page that starts it
        (``app.main.WARM_ENGINE_FOR``; 0: skip).
    sessions : int
        Fresh sessions whose first render is timed per page (the first is the server's
        first visit).
    cold : bool
        Also render the first page once without the warm-up.
    browser : bool
        Also time ``streamlit run`` to the first page's frame in Chromium.
    settle_s : float
        Seconds between the browser's visit at the server's start and its second visit.
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
        cold_url, cold_file = chosen[0][0], chosen[0][1]
        cold_run = ["page", cold_file, str(repeats), "0", "cold", "1"]
        cold_page = _page_result(_child(cold_run, env)) if cold else None
        for url, file, _title, warms in chosen:
            if url == REGIME_PAGE:  # the priming pass stored its fit: measure without it
                shutil.rmtree(Path(env["WORKBENCH_VAR_DIR"]) / "cache" / "regimes", True)
                regime_empty = _child(["page", file, "1", "0", "served", "1"], env)
            probes = probe_clicks if url == probe_page else 0
            # A page that backtests, other than the probed one, as a server started a while
            # ago finds it: its engine warm-up over (else it works through the sessions).
            mode = "engine" if warms and url != probe_page else "served"
            args = [file, str(repeats), str(probes), mode, str(sessions)]
            raw = _page_result(_child(["page", *args], env))
            if probes:
                clicks = raw.pop("click_during_warmup_s")
                probe = {
                    "page": url,
                    "click_s": percentiles(clicks) if clicks else None,
                    **{k: raw.pop(k) for k in _PROBE_KEYS},
                }
            results[url] = raw
        served = _browser_run(cold_url, settle_s, env) if browser else None
    report = _summarize(results, probe, primed, env, load_start, repeats)
    report["cold"] = None if cold_page is None else {"page": cold_url, **cold_page}
    report["browser"] = served
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
    first = {url: r["first_render_stats_s"]["p95"] for url, r in results.items()}
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
        "median_first_render_s": percentiles(
            [r["first_render_stats_s"]["median"] for r in results.values()]
        )["median"],
        "max_first_render_cpu_s": max(r["first_render_cpu_s"] for r in results.values()),
        "max_rerun_p95_s": rerun[worst_rerun],
        "max_rerun_page": worst_rerun,
        "max_rerun_ratio_to_target": rerun[worst_rerun] / TARGET_RERUN_S,
        "pages_over_first_render_target": sorted(
            u for u, s in first.items() if s >= TARGET_FIRST_RENDER_S
        ),
        "pages_over_rerun_target": sorted(u for u, s in rerun.items() if s >= TARGET_RERUN_S),
        "all_pass": all(r["first_render_pass"] and r["rerun_pass"] for r in results.values()),
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


def _table(report: dict[str, Any]) -> list[str]:
    """One line a page: first render and rerun p50/p95 (ms) against the targets."""
    mark = {True: "pass", False: "FAIL"}
    lines = [
        f"{'page':<12} {'first p50':>9} {'p95':>6} {'rerun p50':>9} {'p95':>6}  "
        f"first<{report['target_first_render_s'] * 1000:.0f}  "
        f"rerun<{report['target_rerun_s'] * 1000:.0f}"
    ]
    for url, page in report["pages"].items():
        first, rerun = page["first_render_stats_s"], page["rerun_s"]
        lines.append(
            f"{url:<12} {first['median'] * 1000:>9.0f} {first['p95'] * 1000:>6.0f} "
            f"{rerun['median'] * 1000:>9.0f} {rerun['p95'] * 1000:>6.0f}  "
            f"{mark[page['first_render_pass']]:>10}  {mark[page['rerun_pass']]:>9}"
        )
    return lines


def summary(report: dict[str, Any]) -> str:
    """Digest lines of an ``app`` report, and its table of pages."""
    probe = report.get("warmup_probe") or {}
    click = probe.get("click_s")
    ready = probe.get("engine_ready_after_first_render_s")
    load = report["environment"]
    lines = [
        f"app first render after the server's warm-up (p95 over sessions): max "
        f"{report['max_first_render_s']:.2f} s ({report['max_first_render_page']}), median "
        f"{report['median_first_render_s']:.2f} s over {len(report['pages'])} pages, max CPU "
        f"{report['max_first_render_cpu_s']:.2f} s (target < {report['target_first_render_s']:g}"
        f" s; over: {', '.join(report['pages_over_first_render_target']) or 'none'})",
        f"app rerun p95: max {report['max_rerun_p95_s'] * 1000:.0f} ms "
        f"({report['max_rerun_page']}) (target < {report['target_rerun_s'] * 1000:.0f} ms; "
        f"over: {', '.join(report['pages_over_rerun_target']) or 'none'})",
        *_table(report),
        f"load average {load['loadavg_start'][0]:.1f} at the start, "
        f"{load['loadavg_end'][0]:.1f} at the end ({load['cpus']} CPUs)",
    ]
    cold = report.get("cold")
    if cold:
        lines.append(
            f"app cold first render ({cold['page']}, no warm-up: a visit as the server "
            f"starts): {cold['first_render_s']:.2f} s (CPU {cold['first_render_cpu_s']:.2f} s)"
        )
    served = report.get("browser")
    if served and "skipped" in served:
        lines.append(f"app streamlit run in Chromium: skipped ({served['skipped']})")
    elif served:
        first, second = served["first_visit"], served["second_visit"]
        lines.append(
            f"app streamlit run in Chromium (/{served['url_path']}): health after "
            f"{served['health_s']:.2f} s; a visit then: frame {first['frame_s']:.2f} s, "
            f"title {first['title_s']:.2f} s, run done {first['idle_s']:.2f} s; "
            f"a visit {served['settle_s']:g} s later: frame {second['frame_s']:.2f} s, "
            f"title {second['title_s']:.2f} s, done {second['idle_s']:.2f} s"
        )
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
