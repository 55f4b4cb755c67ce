"""Plain-sentence messages for invalid requests: one formatter for the pages and the CLI.

Pydantic's own phrasing ("Input should be less than or equal to 0.05", "String should
match pattern ...") and field names such as ``step_bars`` never reach a user: each error
becomes a sentence naming the field by its label (a page's label, or a CLI flag) and the
valid range.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PATTERN_WORDS = {
    "^[A-Za-z0-9_.-]+$": "may use only letters, digits, '_', '.' and '-'",
    "^[A-Za-z0-9_-]+$": "may use only letters, digits, '_' and '-'",
}
_FLOAT_INT = re.compile(r"(?<![\w.])(-?\d+)\.0(?![\d.])")


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
    if float(value).is_integer() and abs(value) < 1e15:
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
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"{label}: choose {word} {bound}"
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
    """Replace field identifiers (``step_bars``) in ``text`` by their labels; plain words
    such as ``name`` are left alone, since they read as English."""
    for name in sorted((n for n in labels if "_" in n), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w])", labels[name], text)
    return _FLOAT_INT.sub(r"\1", text)


def _names(text: str, field: str | None) -> bool:
    """Whether ``text`` starts with the field's own name (``"max_drawdown must be ..."``)."""
    return bool(field) and re.match(rf"{re.escape(str(field))}(?![\w-])", text) is not None


def field_errors(exc: Exception, *, labels: Mapping[str, str] | None = None) -> list[FieldError]:
    """The problems of a failed validation, one plain sentence each.

    Parameters
    ----------
    exc : Exception
        A pydantic ``ValidationError`` or any error with a pydantic-style ``errors()``
        (else its text is the one message).
    labels : mapping, optional
        Field name -> what the user sees (a page label or a CLI flag); also replaces
        field names inside our validators' messages. Default: the humanized name.
    """
    labels = dict(labels or {})
    errors_of = getattr(exc, "errors", None)
    errors = errors_of() if callable(errors_of) else None
    if not errors:
        return [FieldError(None, _with_labels(str(exc), labels))]
    out = []
    for item in errors:
        loc = [str(p) for p in item.get("loc", ())]
        top = loc[0] if loc else None
        leaf = loc[-1] if loc else ""
        label = labels.get(leaf, humanize(leaf)) if leaf else ""
        kind, ctx = str(item.get("type", "")), {**(item.get("ctx") or {}), "_field": leaf}
        text = str(item.get("msg", "")).removeprefix("Value error, ")
        if kind == "value_error" and top in labels and len(loc) == 1 and _names(text, top):
            # Our validator already names its field: say the label there, not "Label: name".
            sentence = _with_labels(text, labels)
        else:
            sentence = _sentence(kind, ctx, str(item.get("msg", "")), label)
            if kind == "value_error" and top is None:
                sentence = sentence.lstrip(": ")
            sentence = _with_labels(sentence, {k: v for k, v in labels.items() if k != top})
        if "_" not in sentence.split(" ", 1)[0]:  # a name such as max_drawdown keeps its case
            sentence = sentence[:1].upper() + sentence[1:]
        sentence = sentence.rstrip(".") + "."
        out.append(FieldError(top, sentence, tuple(loc)))
    return out


def error_text(exc: Exception, *, labels: Mapping[str, str] | None = None) -> str:
    """All problems of ``exc`` as one text (one sentence per problem)."""
    return " ".join(e.message for e in field_errors(exc, labels=labels))


__all__ = ["TYPE_WORDS", "FieldError", "error_text", "field_errors", "humanize", "number_text"]
