"""The engine warm-up of the app server: it yields to the user.

A backtest needs vectorbt (about 4 s to import with its dependencies on a loaded 2-core
machine, with bytecode caches; twice that without) and numba's cached kernels. Importing
them in a thread while a page renders or reruns slows that run down: the import holds the
GIL and the script thread queues for it (a click 1-10 s after loading waited 1.8-2.2 s).
Here the warm-up starts with the server, after the pages' own modules
(:mod:`app.warm_start`), or, without that start-up (AppTest), on the first visit to a
page that backtests (``app.main.WARM_ENGINE_FOR``); it imports one module at a time,
and starts each step only once no script run has been in progress for :data:`QUIET_S`
seconds. No render waits for
it, and a click that lands during a step waits for the rest of that one step (0.1-1 s;
vectorbt's own modules are the longest).

Set ``WORKBENCH_APP_WARMUP=0`` to turn it off (the first backtest then imports the engine).
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Seconds without any script run before the next warm-up step starts.
QUIET_S = 1.0

#: Import steps, dependencies first, so that each step is short. vectorbt needs scipy,
#: numba, sklearn, dateparser and plotly; matplotlib, yfinance and quantstats are for the
#: Backtest page's tear sheet (``core.backtest._vbt`` loads vectorbt without quantstats).
#: The last step loads the kernels.
STEPS: tuple[str, ...] = (
    "scipy.special",
    "scipy.linalg",
    "scipy.optimize",
    "scipy.stats",
    "numba",
    "matplotlib.pyplot",
    "yfinance",
    "quantstats",
    "sklearn.preprocessing",
    "dateparser",
    "plotly.express",
    "vectorbt",
)


def enabled() -> bool:
    """False when ``WORKBENCH_APP_WARMUP`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get("WORKBENCH_APP_WARMUP", "1").strip().lower() not in {
        "0",
        "false",
        "no",
        "off",
    }


class ActivityGate:
    """Counts the script runs in progress and remembers when the last one ended.

    Parameters
    ----------
    clock : callable
        Monotonic seconds (injectable for tests).

    >>> now = [0.0]
    >>> gate = ActivityGate(clock=lambda: now[0])
    >>> gate.enter(); now[0] = 5.0; gate.quiet_for()
    0.0
    >>> gate.leave(); now[0] = 6.5; gate.quiet_for()
    1.5
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._active = 0
        self._last_end = clock()

    def enter(self) -> None:
        """A script run starts."""
        with self._cond:
            self._active += 1

    def leave(self) -> None:
        """A script run ends (normally, by ``st.stop``/``st.rerun`` or by an error)."""
        with self._cond:
            self._active = max(0, self._active - 1)
            self._last_end = self._clock()
            self._cond.notify_all()

    def quiet_for(self) -> float:
        """Seconds since the last run ended; 0 while a run is in progress."""
        with self._cond:
            return 0.0 if self._active else max(0.0, self._clock() - self._last_end)

    def wait_quiet(self, seconds: float) -> None:
        """Block until no run has been in progress for ``seconds``."""
        with self._cond:
            while True:
                if self._active:
                    self._cond.wait()
                    continue
                remaining = seconds - (self._clock() - self._last_end)
                if remaining <= 0:
                    return
                self._cond.wait(remaining)


@dataclass
class WarmupStatus:
    """Progress of the warm-up, for the bench and for curious users."""

    started_at: float | None = None
    finished_at: float | None = None
    steps_done: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def done(self) -> bool:
        """True once every step ran (or one failed)."""
        return self.finished_at is not None


#: Script runs of this server process (``app/main.py`` enters and leaves it).
GATE = ActivityGate()
STATUS = WarmupStatus()


def _warm(gate: ActivityGate, quiet_s: float, status: WarmupStatus) -> None:
    status.started_at = time.monotonic()
    try:
        for name in STEPS:
            gate.wait_quiet(quiet_s)
            try:
                importlib.import_module(name)
            except ImportError:
                pass  # an optional dependency; vectorbt does without it
            status.steps_done.append(name)
        gate.wait_quiet(quiet_s)
        from core.backtest import warm_numba

        warm_numba()
        status.steps_done.append("warm_numba")
    except Exception as exc:  # a failed warm-up must not kill the server
        status.error = f"{type(exc).__name__}: {exc}"
    finally:
        status.finished_at = time.monotonic()


_STARTED: dict[int, threading.Thread] = {}
_START_LOCK = threading.Lock()


def start(
    gate: ActivityGate = GATE, *, quiet_s: float | None = None, status: WarmupStatus = STATUS
) -> threading.Thread | None:
    """Start the warm-up thread (daemon) once per ``status``: the server's start-up
    (:mod:`app.warm_start`) and a visit to a backtesting page may both ask; None when it
    is turned off.

    ``quiet_s`` defaults to :data:`QUIET_S` as it is when the thread starts.
    """
    if not enabled():
        return None
    quiet = QUIET_S if quiet_s is None else quiet_s
    with _START_LOCK:
        if id(status) not in _STARTED:
            thread = threading.Thread(
                target=_warm, args=(gate, quiet, status), name="engine-warmup", daemon=True
            )
            thread.start()
            _STARTED[id(status)] = thread
        return _STARTED[id(status)]
