"""Imported datasets on disk: safe names, unique temporary files, verified reads.

The database row of an import (``core.store``) records the file's SHA-256; reading
checks it, so a torn, damaged or replaced file gives a clear error, never wrong prices.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
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


def read_verified(label: str, path: str, checksum: str | None) -> pd.DataFrame:
    """Read a stored dataset, checking its SHA-256 (when recorded) and its values.

    Raises
    ------
    DataSourceError
        The file is missing, unreadable, differs from its checksum or fails validation.
    """
    try:
        blob = Path(path).read_bytes()
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
        return validate_frame(raw, source=label).frame
    except DataValidationError as exc:
        raise DataSourceError(
            f"{label} is corrupted: its stored values fail validation "
            f"({exc.defects[0].message}); {REIMPORT}"
        ) from exc
