"""Imported datasets on disk: safe names, unique temporary files, verified reads.

The database row of an import (``core.store``) records the file's SHA-256; reading
checks it, so a torn, damaged or replaced file gives a clear error, never wrong prices.
A frame that passed the checks is kept in-process (a bounded LRU, :func:`read_verified`)
under its file's identity and the checksum, so loading it again skips the re-check until
the file changes.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from core.data.loaders import DataSourceError
from core.data.validation import DataValidationError, Defect, validate_frame

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_NAME = re.compile(NAME_PATTERN)
REIMPORT = "re-import the original file under a new name (`workbench data import FILE --name NEW`)"


def check_name(name: str, source: str = "dataset") -> None:
    """Refuse a dataset name that is not a plain, portable file name (the whole string)."""
    if _NAME.fullmatch(name):
        return
    if not name:
        problem = "it is empty"
    elif name != name.strip():
        problem = "it starts or ends with whitespace (a newline, tab or space)"
    elif any(c in name for c in "/\\"):
        problem = "it contains a path separator"
    elif any(not c.isprintable() for c in name):
        problem = "it contains a control character"
    elif len(name) > 64:
        problem = f"it is {len(name)} characters long"
    else:
        problem = "it contains characters outside the allowed set"
    raise DataValidationError(
        [
            Defect(
                "bad_name",
                f"name {name!r} is not allowed: {problem}; use 1-64 letters, digits, '.', "
                f"'_' or '-', starting with a letter or digit (pattern {NAME_PATTERN})",
                "name",
            )
        ],
        source,
    )


def parquet_blob(frame: pd.DataFrame) -> tuple[bytes, str]:
    """The Parquet bytes of ``frame`` and their SHA-256."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    blob = buffer.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()


def write_partial(folder: Path, name: str, blob: bytes) -> Path:
    """Write ``blob`` to a temporary file of ``folder`` unique to this call (fsynced)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return Path(partial)


VERIFIED_MAX_FRAMES = 64
"""Verified frames kept in-process at most (least recently used dropped first)."""
VERIFIED_MAX_BYTES = 256 * 2**20
"""Memory of the kept frames at most; a larger frame is verified on every load."""
RACY_WINDOW_NS = 2_000_000_000
"""A file changed less than this long before its check is not kept: a rewrite of the same
size within the file system's timestamp granularity could leave its stat unchanged (the
"racily clean" case of git's index); later, any write moves its ctime."""

_clock_ns = time.time_ns  # the wall clock the racy window is read on (tests inject one)
_FileKey = tuple[str, str, int, int, int, int, int, int]
_verified: OrderedDict[_FileKey, tuple[pd.DataFrame, int]] = OrderedDict()
_verified_lock = threading.Lock()
_verified_bytes = 0


def clear_verified_cache() -> None:
    """Forget every kept frame (the next load of each file verifies it again)."""
    global _verified_bytes
    with _verified_lock:
        _verified.clear()
        _verified_bytes = 0


def verified_cache_size() -> int:
    """Frames kept in-process now."""
    with _verified_lock:
        return len(_verified)


def _file_key(path: str, checksum: str, st: os.stat_result) -> _FileKey:
    return (
        os.path.abspath(path),
        checksum,
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        stat.S_IFMT(st.st_mode),
    )


def _kept(key: _FileKey) -> pd.DataFrame | None:
    """The kept frame of ``key``; on a miss, those of the file's earlier states are dropped."""
    global _verified_bytes
    with _verified_lock:
        found = _verified.get(key)
        if found is None:
            for k in [k for k in _verified if k[0] == key[0]]:
                _verified_bytes -= _verified.pop(k)[1]
            return None
        _verified.move_to_end(key)
        return found[0].copy(deep=False)  # copy-on-write: the caller cannot alter ours


def _keep(key: _FileKey, frame: pd.DataFrame) -> None:
    global _verified_bytes
    size = int(frame.memory_usage(index=True, deep=True).sum())
    if size > VERIFIED_MAX_BYTES:
        return
    with _verified_lock:
        for k in [k for k in _verified if k[0] == key[0]]:  # the file before a change
            _verified_bytes -= _verified.pop(k)[1]
        _verified[key] = (frame.copy(deep=False), size)
        _verified_bytes += size
        while len(_verified) > VERIFIED_MAX_FRAMES or _verified_bytes > VERIFIED_MAX_BYTES:
            _verified_bytes -= _verified.popitem(last=False)[1][1]


def read_verified(label: str, path: str, checksum: str | None) -> pd.DataFrame:
    """Read a stored dataset, checking its SHA-256 (when recorded) and its values.

    A frame that passed both checks is kept in-process under the file's identity (path,
    device, inode, size, mtime and ctime in ns, taken before and after reading, equal)
    and ``checksum``: loading the same unchanged file again returns it without reading
    the file. Any change of the file (a rewrite, even of the same size with its mtime
    put back, moves its ctime; a replacement changes its inode) or of the recorded
    checksum reads and checks the file again. Rows without a checksum are never kept.

    Raises
    ------
    DataSourceError
        The file is missing, unreadable, differs from its checksum or fails validation.
    """
    key: _FileKey | None = None
    if checksum is not None:
        try:
            key = _file_key(path, checksum, os.stat(path))
        except OSError:
            key = None  # reported by the read below
        if key is not None and (found := _kept(key)) is not None:
            return found
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            blob = handle.read()
            after = os.fstat(handle.fileno())
    except OSError as exc:
        raise DataSourceError(
            f"{label}: its file {path} cannot be read ({exc.strerror}); {REIMPORT}"
        ) from exc
    if checksum is not None and hashlib.sha256(blob).hexdigest() != checksum:
        raise DataSourceError(
            f"{label} is corrupted: its file {path} does not match the checksum recorded at "
            f"import; {REIMPORT}"
        )
    try:
        raw = pd.read_parquet(io.BytesIO(blob))
    except Exception as exc:  # pyarrow raises several types
        raise DataSourceError(
            f"{label} is corrupted: its file {path} is not readable Parquet; {REIMPORT}"
        ) from exc
    try:
        frame = validate_frame(raw, source=label).frame
    except DataValidationError as exc:
        raise DataSourceError(
            f"{label} is corrupted: its stored values fail validation "
            f"({exc.defects[0].message}); {REIMPORT}"
        ) from exc
    if checksum is not None:
        read_key = _file_key(path, checksum, before)
        settled = _clock_ns() - max(before.st_mtime_ns, before.st_ctime_ns) > RACY_WINDOW_NS
        if read_key == key and read_key == _file_key(path, checksum, after) and settled:
            _keep(read_key, frame)
    return frame
