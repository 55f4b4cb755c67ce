"""Run a function in N processes (forked) released together at a barrier.

Each child sets the workbench's environment (runtime folder, database URL), imports and
warms up what it needs *before* the barrier, so the calls under test start together.
Children report ``(index, kind, value)``: ``kind`` is what the function returned as its
first element, or ``"error"`` with the traceback of anything it raised.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import sys
import traceback
from typing import Any

TIMEOUT_S = 900.0


def _child(
    target: str, index: int, env: dict[str, str], barrier: Any, queue: Any, args: tuple
) -> None:
    os.environ.update(env)
    try:
        # Anything cached before the environment was set (a module imported while unpickling)
        # must not keep another database or runtime folder.
        config = sys.modules.get("core.config")
        if config is not None:
            config.get_settings.cache_clear()
        db = sys.modules.get("app.services.db")
        if db is not None:
            db._engine_for.cache_clear()
        module_name, func_name = target.rsplit(":", 1)
        module = importlib.import_module(module_name)
        prepare = getattr(module, f"prepare_{func_name}", None)
        state = prepare(*args) if prepare is not None else None
        if "WORKBENCH_DB_URL" in env:
            from core.config import get_settings

            used = get_settings().database_url
            if used != env["WORKBENCH_DB_URL"]:
                raise RuntimeError(f"child uses {used}, not {env['WORKBENCH_DB_URL']}")
        barrier.wait(timeout=TIMEOUT_S)
        kind, value = getattr(module, func_name)(index, state, *args)
        queue.put((index, kind, value))
    except BaseException:  # reported to the parent, which fails the test with it
        queue.put((index, "error", traceback.format_exc()))


def run_together(
    target: str, n: int, env: dict[str, str], *args: Any
) -> list[tuple[int, str, Any]]:
    """Start ``n`` processes calling ``target`` (``"module:function"``) at one moment.

    ``function(index, prepared, *args)`` returns ``(kind, value)``; an optional
    ``prepare_function(*args)`` in the same module runs before the barrier.
    """
    # Fork after importing what the children need (the test module's PRELOAD), so sixteen
    # children do not each pay the interpreter's import time; each child then clears the
    # cached settings and engines it inherited before it sets up its own.
    module_name = target.rsplit(":", 1)[0]
    for name in getattr(importlib.import_module(module_name), "PRELOAD", ()):
        importlib.import_module(name)
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_child, args=(target, i, env, barrier, queue, args)) for i in range(n)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=TIMEOUT_S) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    return sorted(results, key=lambda r: r[0])
