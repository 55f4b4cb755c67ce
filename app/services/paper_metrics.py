"""The paper worker's Prometheus exporter (``workbench paper run --metrics-port P``).

:func:`exporting` serves the session's metrics (:func:`core.monitoring.prom.paper_registry`)
at ``http://HOST:P/metrics`` from a thread of the worker's process while the run lasts, and
adds their bar observer to the run's observers; port 0: no exporter, the observers as given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Engine

from core.paper.observers import BarObserver


@contextmanager
def exporting(
    engine: Engine, session: str, observers: Sequence[BarObserver], *, port: int, host: str
) -> Iterator[list[BarObserver]]:
    """The run's observers, with the metrics observer last when ``port`` is set (it reads
    what monitoring adds to each bar's report); ValueError when the port is taken."""
    if not port:
        yield list(observers)
        return
    from core.monitoring.prom import paper_registry, serve

    registry, observer = paper_registry(engine, session=session)
    server = serve(registry, port=port, host=host)
    try:
        yield [*observers, observer]
    finally:
        server.shutdown()
        server.server_close()


__all__ = ["exporting"]
