"""Scale-out on Dask distributed: one process-wide client, chunked fan-out, a chunk cache.

- :func:`get_client` / :func:`close_client`: a ``LocalCluster`` (one single-threaded worker
  process per core, on 127.0.0.1, no dashboard) or the external scheduler named by
  ``WORKBENCH_DASK_SCHEDULER=tcp://host:8786``; everything after the client exists is
  the same code path;
- :func:`map_chunks`: ``fn(chunk, **shared)`` for every chunk on the workers (or in order
  in this process with ``executor="serial"``), each result handed to ``reduce(i, result)``
  as it arrives, with retries, cancellation and a chunk cache;
- :class:`ChunkCache`: chunk results on disk under the runtime folder, keyed by
  (data hash, spec, code version), written atomically.

Worker processes must import the workbench's code. A ``LocalCluster`` spawns them from
this interpreter; a ``dask worker`` started by hand must use the project's virtualenv
(the editable install makes ``core`` importable) or ``PYTHONPATH=/path/to/repo``::

    dask scheduler --host 127.0.0.1 --port 8786
    PYTHONPATH=$PWD dask worker tcp://127.0.0.1:8786 --nthreads 1 --nworkers 2
    WORKBENCH_DASK_SCHEDULER=tcp://127.0.0.1:8786 workbench sweep ...

Importing this package does not import dask; :func:`get_client` does.
"""

from core.cluster._cache import ChunkCache, code_version
from core.cluster._client import close_client, default_executor, get_client
from core.cluster._map import ChunkStopped, StopProbe, WorkerDiedError, map_chunks

__all__ = [
    "ChunkCache",
    "ChunkStopped",
    "StopProbe",
    "WorkerDiedError",
    "close_client",
    "code_version",
    "default_executor",
    "get_client",
    "map_chunks",
]
