"""Chunk results on disk, keyed by (data hash, spec, code version), written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def code_version(*modules: str) -> str:
    """sha256 of the source files of ``modules`` (dotted names; a package counts every
    ``.py`` file under it), so a cache written by other code is never read.

    >>> len(code_version("core.cluster"))
    64
    """
    import importlib.util

    digest = hashlib.sha256()
    for name in sorted(set(modules)):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"no module {name!r} to version")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for path in files:
            digest.update(str(path.relative_to(origin.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


class ChunkCache:
    """One result file per chunk under ``root / key``.

    Writes go to a temporary file in the same folder, then ``os.replace``, so a reader
    (another process, a resumed job) sees a whole file or none, and concurrent writers
    of the same chunk leave one of their identical results. ``None`` is not a cacheable
    value: :meth:`get` returns ``None`` for a chunk not stored yet.

    Parameters
    ----------
    root : Path
        Folder of all caches (e.g. ``var/chunks``, git-ignored).
    key : str
        This computation's key, usually :meth:`make_key` of (data hash, spec, code version).
    """

    def __init__(self, root: Path, key: str) -> None:
        if not key or any(c in key for c in "/\\") or key.startswith("."):
            raise ValueError(f"cache key {key!r} must be a plain file name, e.g. a sha256")
        self.root = Path(root)
        self.key = key
        self.folder = self.root / key

    @staticmethod
    def make_key(data_hash: str, spec: Mapping[str, Any] | str, code: str) -> str:
        """sha256 of (data hash, canonical spec JSON, code version).

        >>> ChunkCache.make_key("d", {"b": 1, "a": 2}, "c") == ChunkCache.make_key(
        ...     "d", '{"a": 2, "b": 1}', "c")
        True
        """
        value = json.loads(spec) if isinstance(spec, str) else spec
        text = json.dumps(value, sort_keys=True, default=str)
        payload = json.dumps([data_hash, text, code])
        return hashlib.sha256(payload.encode()).hexdigest()

    @classmethod
    def default_root(cls) -> Path:
        """``<var_dir>/chunks`` (``WORKBENCH_VAR_DIR``; git-ignored)."""
        from core.config import get_settings

        return get_settings().var_dir / "chunks"

    def _path(self, index: int) -> Path:
        if index < 0:
            raise ValueError(f"chunk index {index} must be >= 0")
        return self.folder / f"chunk-{index:07d}.pkl"

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and self._path(index).is_file()

    def get(self, index: int) -> Any:
        """The stored result of chunk ``index``, or ``None`` when it is not stored."""
        try:
            with self._path(index).open("rb") as handle:
                return pickle.load(handle)
        except FileNotFoundError:
            return None

    def put(self, index: int, value: Any) -> None:
        """Store the result of chunk ``index`` atomically (tempfile + ``os.replace``)."""
        if value is None:
            raise ValueError("None cannot be cached: it means 'not stored' to get()")
        for attempt in (1, 2):  # a concurrent clear() may remove the folder meanwhile
            try:
                self._write(index, value)
                return
            except FileNotFoundError:
                if attempt == 2:
                    raise

    def _write(self, index: int, value: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(index))
        finally:
            Path(tmp).unlink(missing_ok=True)

    def stored(self) -> list[int]:
        """Indices of the stored chunks, ascending."""
        if not self.folder.is_dir():
            return []
        return sorted(int(p.stem.split("-")[1]) for p in self.folder.glob("chunk-*.pkl"))

    def clear(self, indices: Iterable[int] | None = None) -> None:
        """Delete the given chunks (all when ``None``, and then the folder)."""
        for index in self.stored() if indices is None else indices:
            self._path(index).unlink(missing_ok=True)
        if indices is None:
            shutil.rmtree(self.folder, ignore_errors=True)

    @staticmethod
    def prune(root: Path, *, max_age_s: float, now: float | None = None) -> list[str]:
        """Delete the caches under ``root`` not written for ``max_age_s`` seconds (those of
        runs cancelled or failed and never retried); return their keys."""
        now = time.time() if now is None else now
        gone = []
        for folder in Path(root).iterdir() if Path(root).is_dir() else []:
            if folder.is_dir() and now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
        return sorted(gone)


__all__ = ["ChunkCache", "code_version"]
