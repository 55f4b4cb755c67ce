"""``workbench predict``: batch prediction with a registered model; ``predict-one`` and
``predict-batch``: the probability at one bar."""

from __future__ import annotations

from typing import Any

from pydantic_core import PydanticCustomError

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import fail
from app.cli._generate import add_command
from app.operations.predict import PREDICT, PREDICT_BATCH, PREDICT_ONE


def _out(raw: Any, _values: dict[str, Any], as_json: bool) -> str | None:
    """``--out``: a file we can write (checked before any work; the request checks that it
    ends in .csv or .parquet)."""
    if raw in (None, ""):
        return None
    try:
        return str(opt.output_file()(raw))
    except PydanticCustomError as exc:
        fail(f"--out: {exc.message()}", as_json=as_json)
        raise  # fail() exits; this only tells type checkers
    except OSError as exc:  # e.g. a name longer than the file system allows
        shown = str(raw) if len(str(raw)) <= 40 else str(raw)[:40] + "..."
        fail(f"--out: {shown!r} is not a usable file path ({exc.strerror})", as_json=as_json)
        raise


add_command(app, PREDICT, converters={"out": _out})


def _text(raw: Any, _values: dict[str, Any], _as_json: bool) -> str | None:
    """``--model``: a version id or a NAME:VERSION / NAME@champion reference, as typed."""
    return None if raw in (None, "") else str(raw)


add_command(app, PREDICT_ONE, converters={"model": _text})
add_command(app, PREDICT_BATCH, converters={"model": _text})
