"""Plain-sentence messages for invalid requests: one formatter for the pages, the CLI and
the API.

Pydantic's own phrasing ("Input should be less than or equal to 0.05", "String should
match pattern ...") and field names such as ``step_bars`` never reach a user: each error
becomes a sentence naming the field by its label and the valid range, with integers shown
as integers. A field's label lives in one place, its ``title`` in the request model
(:func:`field_label`; the humanized name when it has none); a page may still pass its own
``labels``. The CLI shows the same sentence and adds the field's flag in brackets
(``flags=``); a page never shows a flag.

Rules across fields (``stop`` below ``start``) are written with the field names and raised
as :class:`RuleError` naming the field they belong beside; the names become labels here.

>>> from pydantic import BaseModel, Field, ValidationError
>>> class R(BaseModel):
...     step_bars: int = Field(ge=1, le=500)
>>> try:
...     R(step_bars=900)
... except ValidationError as exc:
...     print(error_text(exc, labels={"step_bars": "Step (bars)"}))
Step (bars) must be at most 500.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

_PATTERN_WORDS = {
    "^[A-Za-z0-9_.-]+$": "may use only letters, digits, '_', '.' and '-'",
    "^[A-Za-z0-9_-]+$": "may use only letters, digits, '_' and '-'",
}
_FLOAT_INT = re.compile(r"(?<![\w.])(-?\d+)\.0(?![\d.])")
_SNAKE = re.compile(r"(?<![\w'\"-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w'\"-])")
_LONG_QUOTED = re.compile(r"'([^'\n]{40})[^'\n]+'")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class RuleError(ValueError):
    """A rule across fields, shown beside ``field`` (raise it in a model validator).

    Write the other fields by their names (``step_bars``); :func:`field_errors` turns
    them into labels.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def field_label(model: type[BaseModel], name: str) -> str:
    """What the user sees for field ``name`` of ``model``: its ``title``, else the name
    humanized (``init_cash`` -> ``"Init cash"``)."""
    info = model.model_fields.get(name)
    return info.title if info is not None and info.title else humanize(name)


def _nested(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models inside an annotation (``dict[str, GridAxis]`` -> GridAxis)."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if typing.get_origin(annotation) is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _nested(arg)


def model_labels(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> label of ``model`` and of the models nested in its fields (the
    outer model's label wins for a name both have)."""
    labels: dict[str, str] = {}
    seen: set[type[BaseModel]] = set()

    def walk(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name in m.model_fields:
            labels.setdefault(name, field_label(m, name))
        for info in m.model_fields.values():
            for inner in _nested(info.annotation):
                walk(inner)

    walk(model)
    return labels


def _declared_models() -> Iterator[type[BaseModel]]:
    """Every operation's request model, and every other model the modules of
    ``app/operations`` declare (requests of hand-written commands such as PaperRequest)."""
    import importlib
    import pkgutil

    from pydantic import BaseModel

    import app.operations as package
    from app.operations import all_operations

    yield from (op.request for op in all_operations())
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                yield value


@cache
def request_models() -> dict[str, type[BaseModel]]:
    """The request models of ``app/operations`` (and the models nested in them) by class
    name."""
    models: dict[str, type[BaseModel]] = {}
    pending = list(_declared_models())
    while pending:
        model = pending.pop()
        if model.__name__ in models:
            continue
        models[model.__name__] = model
        for info in model.model_fields.values():
            pending.extend(_nested(info.annotation))
    return models


@cache
def known_labels() -> dict[str, str]:
    """Field name -> label over every request model: the labels of an error whose model
    is not known (an API body, a service's ValueError)."""
    labels: dict[str, str] = {}
    for model in request_models().values():
        for name, label in model_labels(model).items():
            labels.setdefault(name, label)
    return labels


def labels_of(exc: Exception, model: type[BaseModel] | None = None) -> dict[str, str]:
    """The labels for the fields of ``exc``: ``model``'s, else those of the request model
    the validation error names (its ``title``), else :func:`known_labels`."""
    if model is None:
        title = getattr(exc, "title", None)
        model = request_models().get(title) if isinstance(title, str) else None
    if model is None:
        return dict(known_labels())
    return {**known_labels(), **model_labels(model)}


@dataclass(frozen=True)
class FieldError:
    """One problem with a request.

    Attributes
    ----------
    field : str or None
        The top-level request field it belongs to (None for a rule across fields).
    message : str
        A full sentence naming the field by its label.
    """

    field: str | None
    message: str
    path: tuple[str, ...] = ()
    """The full location (``("params", "fast")``), to place the message beside a widget."""


def number_text(value: Any) -> str:
    """``80`` for 80.0, ``0.05`` for 0.05, the value itself otherwise.

    >>> number_text(80.0), number_text(0.05), number_text("x")
    ('80', '0.05', 'x')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    return f"{value:g}"


def humanize(name: str) -> str:
    """``'step_bars'`` -> ``'Step bars'``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


TYPE_WORDS = {
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "string_type": "must be text (a JSON string)",
    "string_unicode": "must be text (a JSON string)",
    "datetime_parsing": "must be a date and time written YYYY-MM-DDTHH:MM:SS",
    "datetime_type": "must be a date and time written YYYY-MM-DDTHH:MM:SS",
}
"""Words for pydantic's type errors of values sent as JSON (the API; a form's or the CLI's
typed values rarely have them)."""


def _sentence(kind: str, ctx: Mapping[str, Any], msg: str, label: str) -> str:
    if kind == "greater_than_equal":
        return f"{label} must be at least {number_text(ctx['ge'])}"
    if kind == "greater_than":
        return f"{label} must be more than {number_text(ctx['gt'])}"
    if kind == "less_than_equal":
        return f"{label} must be at most {number_text(ctx['le'])}"
    if kind == "less_than":
        return f"{label} must be less than {number_text(ctx['lt'])}"
    if kind == "string_pattern_mismatch":
        words = _PATTERN_WORDS.get(str(ctx.get("pattern")), f"must match {ctx.get('pattern')}")
        return f"{label} {words}"
    if kind == "string_too_short":
        n = int(ctx.get("min_length", 1))
        return f"{label} must not be empty" if n <= 1 else f"{label} needs at least {n} characters"
    if kind == "string_too_long":
        return f"{label} is too long: at most {ctx.get('max_length')} characters"
    if kind in ("too_short", "too_long"):
        bound = int(ctx.get("min_length" if kind == "too_short" else "max_length", 0))
        word = "at least" if kind == "too_short" else "at most"
        return f"{label} takes {word} {bound} {'entry' if bound == 1 else 'entries'}"
    if kind == "missing":
        return f"{label} is required"
    if kind == "literal_error":
        return f"{label} must be one of {ctx.get('expected')}"
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return f"{label} must be a whole number"
    if kind in ("float_parsing", "float_type", "finite_number"):
        return f"{label} must be a finite number"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return f"{label} must be a date written YYYY-MM-DD"
    if kind in ("bool_parsing", "bool_type"):
        return f"{label} must be true or false"
    if kind == "extra_forbidden":
        return f"{label} is not a setting of this form; remove it"
    if kind in TYPE_WORDS and label:
        return f"{label} {TYPE_WORDS[kind]}"
    text = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    names_it = label and (label.lower() in text.lower() or ctx.get("_field", "") in text)
    return f"{label}: {text}" if label and not names_it else text


def _with_labels(text: str, labels: Mapping[str, str]) -> str:
    """Replace field identifiers (``step_bars``) in ``text`` by their labels and integral
    floats (``80.0``) by integers; plain words such as ``name`` are left alone, since they
    read as English."""
    text = _SNAKE.sub(lambda m: labels.get(m.group(1), m.group(1)), text)
    return _FLOAT_INT.sub(r"\1", text)


def _finish(sentence: str) -> str:
    """One sentence: capitalized, long quoted values cut, control characters dropped,
    ending in one full stop."""
    sentence = _LONG_QUOTED.sub(lambda m: f"'{m.group(1)}…'", _CONTROL.sub("", sentence))
    sentence = sentence.strip()
    if "_" not in sentence.split(" ", 1)[0]:  # a name the user typed (max_drawdown) keeps its case
        sentence = sentence[:1].upper() + sentence[1:]
    return sentence.rstrip(".") + "."


def _labelled(text: str, label: str) -> str:
    """``text``, led by ``"Label: "`` unless it already names the label."""
    return f"{label}: {text}" if label and label.lower() not in text.lower() else text


def _flagged(sentence: str, field: str | None, flags: Mapping[str, str] | None) -> str:
    """``sentence`` with the field's CLI flag in brackets before its full stop."""
    flag = (flags or {}).get(field or "")
    if not flag or flag in sentence:
        return sentence
    return f"{sentence[:-1]} ({flag})."


def _expanded(errors: list[Any]) -> Iterator[Mapping[str, Any]]:
    """The errors, a model validator's error that has its own ``errors()`` (a strategy
    parameter's ``ParamRangeError``) replaced by those, located where they belong."""
    for item in errors:
        cause = (item.get("ctx") or {}).get("error")
        inner = getattr(cause, "errors", None)
        if item.get("type") == "value_error" and not item.get("loc") and callable(inner):
            yield from inner()
        else:
            yield item


def field_errors(
    exc: Exception,
    *,
    labels: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
    flags: Mapping[str, str] | None = None,
) -> list[FieldError]:
    """The problems of a failed validation, one plain sentence each.

    Parameters
    ----------
    exc : Exception
        A pydantic ``ValidationError``, any error with a pydantic-style ``errors()``, or
        any other error (its text is the one message; a ``field`` attribute places it).
    labels : mapping, optional
        Field name -> what the user sees, over the labels of :func:`labels_of`.
    model : type of BaseModel, optional
        The request model (default: the one the error names, else every request's).
    flags : mapping, optional
        Field name -> CLI flag: the CLI's sentences add the flag in brackets.
    """
    names = {**labels_of(exc, model), **(labels or {})}
    errors_of = getattr(exc, "errors", None)
    errors = errors_of() if callable(errors_of) else None
    if not errors:
        field = getattr(exc, "field", None)
        field = field if isinstance(field, str) else None
        label = names.get(field, humanize(field)) if field else ""
        text = str(exc)
        if field and (lead := re.match(rf"{re.escape(field)}(?![\w-])", text)):
            text = label + text[lead.end() :]
        if field:
            sentence = _finish(_labelled(_with_labels(text, names), label))
        else:  # a service's own sentence, as it wrote it (names become labels)
            sentence = _LONG_QUOTED.sub(lambda m: f"'{m.group(1)}…'", _with_labels(text, names))
        path = (field,) if field else ()
        return [FieldError(field, _flagged(sentence, field, flags), path)]
    out = []
    for item in _expanded(errors):
        loc = [str(p) for p in item.get("loc", ())]
        kind, ctx = str(item.get("type", "")), dict(item.get("ctx") or {})
        rule_field = getattr(ctx.get("error"), "field", None)
        rule = kind == "value_error" and not loc and isinstance(rule_field, str)
        if rule:
            loc = [str(rule_field)]
        top = loc[0] if loc else None
        leaf = loc[-1] if loc else ""
        label = names.get(leaf, humanize(leaf)) if leaf else ""
        ctx["_field"] = leaf
        text = str(item.get("msg", "")).removeprefix("Value error, ")
        if kind in ("value_error", "assertion_error", "range"):
            # Our validators' sentences: a leading field name becomes the label, other
            # field names too; a sentence that names no label is led by "Label: ".
            text = text.removeprefix("Assertion failed, ")
            if leaf in names and (lead := re.match(rf"{re.escape(leaf)}(?![\w-])", text)):
                text = label + text[lead.end() :]
            sentence = _labelled(_with_labels(text, names), label)
        else:
            sentence = _sentence(kind, ctx, _with_labels(str(item.get("msg", "")), names), label)
            sentence = _with_labels(sentence, names)
        sentence = _flagged(_finish(sentence), top, flags)
        out.append(FieldError(top, sentence, tuple(loc)))
    return out


def error_text(
    exc: Exception,
    *,
    labels: Mapping[str, str] | None = None,
    model: type[BaseModel] | None = None,
    flags: Mapping[str, str] | None = None,
) -> str:
    """All problems of ``exc`` as one text (one sentence per problem); see
    :func:`field_errors`."""
    problems = field_errors(exc, labels=labels, model=model, flags=flags)
    return " ".join(e.message for e in problems)


__all__ = [
    "TYPE_WORDS",
    "FieldError",
    "RuleError",
    "error_text",
    "field_errors",
    "field_label",
    "humanize",
    "known_labels",
    "labels_of",
    "model_labels",
    "number_text",
    "request_models",
]
