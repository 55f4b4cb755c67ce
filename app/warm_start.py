"""The server's start-up warm-up: it loads what the pages need before anyone opens one.

``streamlit run app/main.py`` serves :data:`app.main.streamlit_app` (an ``st.App``), whose
lifespan calls :func:`start` once the server is up. A daemon thread then

1. imports the modules that ``app/main.py`` and every page import at their top (read
   from their source with :mod:`ast`, the default page first, so a new import on a page
   is warmed without a list to keep), except the engine's (:data:`ENGINE_MODULES`), and
   those a first render loads on first use (:data:`FIRST_USE_MODULES`);
2. fills the shared caches the router and the default page read: the database (migrated
   on first use), the dataset list, the default dataset's symbols and prices, the jobs
   worker and the alert watchdog, and draws what a process draws once (Streamlit's first
   element check, Plotly's first figure);
3. starts the engine warm-up (:mod:`app.warmup`: vectorbt and numba's cached kernels;
   ``WORKBENCH_APP_WARMUP=0`` turns it off, not steps 1-2, which only do earlier what
   the first visits would do).

Every step first waits until no script run is in progress (:data:`app.warmup.GATE`), so a
page run never shares the interpreter with a warm-up step that has not begun; a visit
that arrives during a step waits for that one import at most (the import lock), and
needs most of those modules itself. A page's first render after the warm-up imports
nothing and reads its data from the caches (``workbench bench --only app``).
"""

from __future__ import annotations

import ast
import importlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from app.warmup import GATE, ActivityGate, WarmupStatus

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "app" / "main.py"
PAGES_DIR = ROOT / "pages"
#: Top-level packages the engine warm-up loads instead (long imports, gated by quiet time).
ENGINE_MODULES = frozenset({"vectorbt", "numba", "quantstats", "yfinance", "matplotlib"})
#: Modules a first render imports on first use, beyond the scripts' top-level imports:
#: Streamlit's own (icons, magic, components v2), Plotly's serialisation, pandas' Styler
#: and CSV writer, and the regime models the Regimes page reads its stored fit with
#: (``workbench bench --only app`` lists what a page's first render still imports).
FIRST_USE_MODULES = (
    "streamlit.emojis",
    "streamlit.material_icon_names",
    "streamlit.runtime.scriptrunner.magic_funcs",
    "streamlit.components.v2.manifest_scanner",
    "plotly.io",
    "plotly.tools",
    "plotly.colors",
    "pandas.io.formats.style",
    "pandas.io.formats.csvs",
    "pandas.core.arrays.arrow.extension_types",
    "pyarrow.dataset",
    "hmmlearn.hmm",
)

STATUS = WarmupStatus()
THREAD_NAME = "server-warmup"
#: Streamlit's loggers that warn when a cache is read outside a script run, as here.
_QUIET_LOGGERS = (
    "streamlit.runtime.scriptrunner_utils.script_run_context",
    "streamlit.runtime.caching.cache_data_api",
    "streamlit.runtime.caching.cache_resource_api",
)
_LOCK = threading.Lock()
_THREAD: list[threading.Thread] = []


def top_imports(path: Path) -> list[str]:
    """Absolute modules a script imports at its top level, in order (``from m import n``
    also gives ``m.n``, which may be a submodule); engine modules left out.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     script = Path(tmp) / "page.py"
    ...     _ = script.write_text("import json\\nfrom app import state\\nimport vectorbt\\n"
    ...                           "def f():\\n    import xgboost\\n")
    ...     top_imports(script)
    ['json', 'app', 'app.state']
    """
    names: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [
        n
        for n in dict.fromkeys(names)
        if n != "__future__" and n.partition(".")[0] not in ENGINE_MODULES
    ]


def page_files() -> list[Path]:
    """``app/main.py`` then the pages of its registry, in navigation order."""
    from app.navigation import PAGES

    return [MAIN, *(PAGES_DIR / file for _section, file, *_rest in PAGES)]


def import_modules(names: Iterable[str], gate: ActivityGate, status: WarmupStatus) -> None:
    """Import each module once no script run is in progress; ``m.n`` that names no
    submodule (a function or class) is skipped."""
    for name in names:
        gate.wait_quiet(0.0)
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not an attribute
                raise
        status.steps_done.append(name)


def fill_caches(gate: ActivityGate, status: WarmupStatus) -> None:
    """The router's and the default page's reads (see :func:`warm_pages`)."""
    from app import cached, defaults

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("jobs_worker", cached.jobs_worker),
        ("alerts_watchdog", cached.alerts_watchdog),
        ("dataset_infos", cached.dataset_infos),
    ]
    for name, step in steps:
        gate.wait_quiet(0.0)
        step()
        status.steps_done.append(name)
    gate.wait_quiet(0.0)
    symbols = cached.symbols(defaults.DATASET)
    status.steps_done.append("symbols")
    if defaults.SYMBOL in symbols:
        gate.wait_quiet(0.0)
        full = cached.prices(defaults.DATASET, defaults.SYMBOL, None, None)
        # The Data page's chart reads the whole range as dates (a key of its own).
        cached.prices(
            defaults.DATASET, defaults.SYMBOL, full.index[0].date(), full.index[-1].date()
        )
        status.steps_done.append("prices")
        gate.wait_quiet(0.0)
        _first_figure(full.tail(5))
        status.steps_done.append("figure")


def _first_figure(frame: Any) -> None:
    """Serialise a small price chart and titled line panels as ``st.plotly_chart`` does:
    Plotly loads its trace and layout classes and its default template on first use."""
    import plotly.graph_objects as go
    import plotly.io
    from plotly.subplots import make_subplots

    from app.components.charts import price_figure

    panels = make_subplots(rows=2, cols=1, subplot_titles=("a", "b"))
    panels.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"width": 1}))
    panels.update_xaxes(title_text="x")
    for figure in (price_figure(frame, title="warm-up"), panels):
        plotly.io.to_json(figure, validate=False)


def _first_element() -> None:
    """Streamlit's one-time check on the first element a process draws (whether it runs
    in a REPL: ``inspect.stack()``, 0.1-1 s in a page run), done here instead; only in a
    server (or where its "use streamlit run" note is off), where it prints nothing."""
    from streamlit import config, delta_generator, runtime

    check = getattr(delta_generator, "_maybe_print_use_warning", None)
    quiet = runtime.exists() or not config.get_option("global.showWarningOnDirectExecution")
    if check is not None and quiet:  # a private function: absent in another Streamlit
        check()


def _from_other_threads(record: logging.LogRecord) -> bool:
    return record.threadName != THREAD_NAME


def warm_pages(gate: ActivityGate = GATE, status: WarmupStatus = STATUS) -> None:
    """Steps 1 and 2 of the module docstring, in the calling thread.

    Streamlit's warnings that a cache is read without a script run ("missing
    ScriptRunContext") are dropped for the thread named :data:`THREAD_NAME`.
    """
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if _from_other_threads not in logger.filters:
            logger.addFilter(_from_other_threads)
    status.started_at = time.monotonic()
    try:
        names = [n for path in page_files() for n in top_imports(path)]
        import_modules(dict.fromkeys([*names, *FIRST_USE_MODULES]), gate, status)
        gate.wait_quiet(0.0)
        _first_element()
        fill_caches(gate, status)
    except Exception as exc:  # a failed warm-up must not kill the server
        status.error = f"{type(exc).__name__}: {exc}"
    finally:
        status.finished_at = time.monotonic()


def _run(gate: ActivityGate, status: WarmupStatus) -> None:
    warm_pages(gate, status)
    from app import warmup

    warmup.start(gate)


def start(gate: ActivityGate = GATE, status: WarmupStatus = STATUS) -> threading.Thread:
    """Start the warm-up thread once per process (daemon); later calls return it."""
    with _LOCK:
        if not _THREAD:
            thread = threading.Thread(
                target=_run, args=(gate, status), name=THREAD_NAME, daemon=True
            )
            thread.start()
            _THREAD.append(thread)
        return _THREAD[0]


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """``st.App`` lifespan: start the warm-up as the server starts; nothing to stop."""
    start()
    yield
