"""Validated values for ``workbench`` flags, checked by typer before a command does any work.

Each factory returns a ``parser`` for :func:`typer.Option`: it turns the typed text into a
value or raises an error that typer prints as ``Invalid value for '--flag': ...`` with exit
code 2. Ranges come from the request models where one exists (:func:`from_model`), so the
CLI and the pages can never disagree on what is valid.
"""

from __future__ import annotations

import importlib
import math
import os
import re
import types
import typing
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import annotated_types as at
from pydantic_core import PydanticCustomError

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_TEXT = 200

Parser = Callable[[Any], Any]


def _refuse(message: str) -> PydanticCustomError:
    # Braces would be read as template fields by pydantic.
    return PydanticCustomError("cli_value", message.replace("{", "{{").replace("}", "}}"))


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def describe_range(
    low: float | None,
    high: float | None,
    *,
    integer: bool,
    low_open: bool = False,
    high_open: bool = False,
) -> str:
    """Words for a range, e.g. ``'an integer in [1, 1000]'`` or ``'a number > 0'``.

    >>> describe_range(0, 0.05, integer=False)
    'a number in [0, 0.05]'
    >>> describe_range(0, None, integer=False, low_open=True)
    'a number > 0'
    """
    noun = "an integer" if integer else "a number"
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"{noun} in {left}{_fmt(low)}, {_fmt(high)}{right}"
    if low is not None:
        return f"{noun} {'>' if low_open else '>='} {_fmt(low)}"
    if high is not None:
        return f"{noun} {'<' if high_open else '<='} {_fmt(high)}"
    return f"a finite {noun.removeprefix('a ').removeprefix('an ')}"


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_open: bool = False,
    high_open: bool = False,
) -> Parser:
    """A finite number (or integer) within ``[low, high]``; nan, inf and text are refused."""
    valid = describe_range(low, high, integer=integer, low_open=low_open, high_open=high_open)

    def parse(value: Any) -> int | float:
        if isinstance(value, bool):
            raise _refuse(f"{value!r} is not {valid}")
        if isinstance(value, int | float):
            parsed: int | float = value
        else:
            text = str(value).strip()
            if integer and _INT.fullmatch(text) and len(text) <= 30:
                parsed = int(text)
            elif not integer and _FLOAT.fullmatch(text):
                parsed = float(text)
            else:
                raise _refuse(f"{str(value)[:40]!r} is not {valid}")
        if isinstance(parsed, float) and not math.isfinite(parsed):
            raise _refuse(f"{str(value)[:40]!r} is not {valid}")
        too_low = low is not None and (parsed < low or (low_open and parsed == low))
        too_high = high is not None and (parsed > high or (high_open and parsed == high))
        if too_low or too_high:
            raise _refuse(f"{_fmt(parsed)} is out of range; give {valid}")
        return parsed

    return parse


def choice(values: Sequence[str] | str) -> Parser:
    """One of ``values`` (exact, case-sensitive); ``'module:NAME'`` is imported lazily."""

    def parse(value: Any) -> str:
        allowed = _resolve(values)
        if value not in allowed:
            raise _refuse(f"{str(value)[:40]!r} is not one of: {', '.join(allowed)}")
        return str(value)

    return parse


def _resolve(values: Sequence[str] | str) -> list[str]:
    if isinstance(values, str):
        module, name = values.split(":")
        return [str(v) for v in getattr(importlib.import_module(module), name)]
    return list(values)


def iso_date() -> Parser:
    """A calendar date written YYYY-MM-DD."""

    def parse(value: Any) -> str:
        raw = str(value)
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
                raise ValueError
            date.fromisoformat(raw)
        except ValueError:
            raise _refuse(
                f"{raw[:40]!r} is not a date; write YYYY-MM-DD, e.g. 2020-01-31"
            ) from None
        return raw

    return parse


def text(*, pattern: str | None = None, hint: str = "", allow_empty: bool = False) -> Parser:
    """Printable text without surrounding spaces or line breaks, at most 200 characters."""

    def parse(value: Any) -> str:
        value = str(value)
        if not value:
            if allow_empty:
                return value
            raise _refuse("must not be empty")
        if len(value) > MAX_TEXT:
            raise _refuse(f"is {len(value)} characters long; the limit is {MAX_TEXT}")
        if not value.isprintable():
            raise _refuse(f"{value!r} contains a line break or control character; remove it")
        if value != value.strip():
            raise _refuse(f"{value!r} has leading or trailing spaces; remove them")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise _refuse(f"{value!r} is not valid{': ' + hint if hint else ''}")
        return value

    return parse


def output_file() -> Parser:
    """A file we can write: not a directory, inside a folder that exists or can be made."""

    def parse(value: Any) -> Path:
        raw = str(value)
        if not raw or not raw.isprintable():
            raise _refuse(f"{raw!r} is not a usable file path")
        path = Path(raw)
        if path.is_dir():
            raise _refuse(f"{raw!r} is a directory; give a file name, e.g. {raw}/report.html")
        if path.exists() and not os.access(path, os.W_OK):
            raise _refuse(f"{raw!r} is not writable; choose another file")
        ancestor = path.absolute().parent
        while not ancestor.exists():
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise _refuse(f"{raw!r} cannot be created: {ancestor} is a file, not a folder")
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise _refuse(f"{raw!r} cannot be created: {ancestor} is not writable")
        return path

    return parse


def input_file() -> Parser:
    """An existing, readable regular file."""

    def parse(value: Any) -> Path:
        raw = str(value)
        path = Path(raw)
        if not raw or not path.exists():
            raise _refuse(f"file not found: {raw!r}; check the path")
        if not path.is_file():
            raise _refuse(f"{raw!r} is not a regular file (a directory?); give a file")
        if not os.access(path, os.R_OK):
            raise _refuse(f"{raw!r} is not readable")
        return path

    return parse


def from_model(target: str, field: str) -> Parser:
    """The parser for field ``field`` of the pydantic model ``'module:Class'`` (imported
    lazily, on first use): its type, bounds, choices and pattern."""
    cache: dict[str, Parser] = {}

    def parse(value: Any) -> Any:
        if "parser" not in cache:
            module, name = target.split(":")
            model = getattr(importlib.import_module(module), name)
            cache["parser"] = _field_parser(model.model_fields[field])
        return cache["parser"](value)

    return parse


def _field_parser(info: Any) -> Parser:
    annotation = info.annotation
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = tuple(a for a in args if a is not type(None))
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is typing.Literal:
        return choice([str(a) for a in typing.get_args(annotation)])
    bounds: dict[str, Any] = {}
    pattern = None
    for item in info.metadata:
        if isinstance(item, at.Ge):
            bounds.update(low=item.ge)
        elif isinstance(item, at.Gt):
            bounds.update(low=item.gt, low_open=True)
        elif isinstance(item, at.Le):
            bounds.update(high=item.le)
        elif isinstance(item, at.Lt):
            bounds.update(high=item.lt, high_open=True)
        elif getattr(item, "pattern", None):
            pattern = item.pattern
    if annotation in (int, float):
        return number(integer=annotation is int, **bounds)
    hint = f"it must match {pattern}" if pattern else ""
    return text(pattern=pattern, hint=hint, allow_empty=info.default == "")


def host() -> Parser:
    """An address to listen on: an IP address or a host name."""
    return text(pattern=r"[A-Za-z0-9.:_-]+", hint="an IP address or host name, e.g. 127.0.0.1")


__all__ = [
    "choice",
    "describe_range",
    "from_model",
    "host",
    "input_file",
    "iso_date",
    "number",
    "output_file",
    "text",
]
