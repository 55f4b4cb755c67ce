"""Typer commands generated from an operation's request model.

Each request field becomes one option: its flag (``--field-name`` unless the operation's
:class:`~app.operations.Flag` names another), its default from the model, its help from the
field's description, and a parser from its type and bounds (checked by typer before any
work). A default changed in the model therefore changes ``--help`` and the value used.
"""

from __future__ import annotations

import datetime
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from pydantic.fields import FieldInfo

from app.cli import options as opt
from app.cli._common import FIELD_LABELS, JSON_OPT, _actor, _call, emit
from app.operations import Operation
from app.operations.errors import humanize

After = Callable[[Any, dict[str, Any], dict[str, Any], bool], dict[str, Any]]
Convert = Callable[[Any, dict[str, Any], bool], Any]
"""``convert(raw, raw_values, as_json) -> field value`` for a field typed on the command
line as text (``name=value`` pairs, grids); it may call ``fail``."""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """``(inner type, optional)`` of ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _choices(info: FieldInfo) -> str | None:
    """The ``"module:NAME"`` of a field's dynamic choices, if it declares one."""
    extra = info.json_schema_extra
    return str(extra["choices"]) if isinstance(extra, dict) and "choices" in extra else None


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return ...
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return info.default


def _option(op: Operation, name: str, info: FieldInfo, converted: bool) -> inspect.Parameter | None:
    """The typer option of one request field (None when hidden)."""
    custom = op.flags.get(name)
    if custom is not None and custom.hidden:
        return None
    flag = op.flag(name)
    help_text = (custom.help if custom and custom.help else None) or info.description
    help_text = (help_text or humanize(name)).rstrip(".") + "."
    default = _default(info)
    inner, optional = _unwrap(info.annotation)
    origin = typing.get_origin(inner)
    kwargs: dict[str, Any] = {"help": help_text}
    if converted:
        annotation: Any = list[str] if origin in (list, dict) else str | None
        if origin in (list, dict):
            default = default if default is ... or isinstance(default, list) else []
        elif default is not ...:
            default = None if default in ({}, None) else str(default)
    elif inner is bool:  # a Flag may name the pair itself, e.g. "--flatten/--keep-positions"
        pair = custom.name if custom and custom.name and "/" in custom.name else None
        annotation, flag = bool, pair or f"{flag}/--no-{flag.removeprefix('--')}"
    elif origin is list:
        annotation = list[str]
        choices = _choices(info)
        kwargs["parser"] = opt.choice(choices) if choices else opt._field_parser(info)
        default = [] if default is ... else list(default)
    elif inner is Path:
        annotation = Path | None if optional else Path
        kwargs["parser"] = opt.input_file()
    elif inner is datetime.date:
        annotation = str | None if optional else str
        kwargs["parser"] = opt.iso_date()
        default = default.isoformat() if isinstance(default, datetime.date) else default
    elif _choices(info):
        annotation = str | None if optional else str
        kwargs["parser"] = opt.choice(str(_choices(info)))
    elif inner in (int, float) or origin is typing.Literal or inner is str:
        base = str if origin is typing.Literal or inner is str else inner
        annotation = base | None if optional else base
        kwargs["parser"] = opt._field_parser(info)
    else:
        raise TypeError(f"{op.name}: field {name!r} of type {info.annotation} needs a converter")
    if custom is not None and custom.prompt:
        kwargs.update(prompt=custom.prompt, hide_input=True, confirmation_prompt=custom.confirm)
    if custom is not None and custom.argument:
        option = typer.Argument(default, **kwargs)
    else:
        option = typer.Option(default, flag, **kwargs)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=annotation
    )


def _field_order(op: Operation) -> list[str]:
    """The request's own fields first, then those it inherits (costs last)."""
    order: list[str] = []
    for cls in op.request.__mro__:
        for name in getattr(cls, "__annotations__", {}):
            if name in op.request.model_fields and name not in order:
                order.append(name)
    return order


def request_options(op: Operation, converters: Mapping[str, Convert]) -> list[inspect.Parameter]:
    """The typer options of every offered field of ``op.request``."""
    params = [
        _option(op, name, op.request.model_fields[name], name in converters)
        for name in _field_order(op)
    ]
    return [p for p in params if p is not None]


def build_request(
    op: Operation, raw: dict[str, Any], as_json: bool, converters: Mapping[str, Convert]
) -> Any:
    """Convert the raw option values and validate the request (exit 2 when invalid)."""
    values: dict[str, Any] = {}
    for name in op.request.model_fields:
        if name in converters:
            values[name] = converters[name](raw.get(name), raw, as_json)
        elif name in raw:
            values[name] = raw[name]
    values = {k: v for k, v in values.items() if v is not None}
    return _call(as_json, op.request, **values)


def extra_option(
    name: str, annotation: Any, default: Any, *flags: str, **option: Any
) -> inspect.Parameter:
    """A CLI-only option for ``add_command(extra=...)`` (output shaping, not a request
    field): ``typer.Option(default, *flags, **option)`` bound to parameter ``name``."""
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(
        name, kind, default=typer.Option(default, *flags, **option), annotation=annotation
    )


def _async_param(op: Operation) -> list[inspect.Parameter]:
    """``--async`` for a long operation (none for the others)."""
    if not op.long_running:
        return []
    option = typer.Option(
        False,
        "--async",
        help="Run it as a background job: print the job id at once "
        "(follow it with `workbench jobs wait ID`).",
    )
    kind = inspect.Parameter.KEYWORD_ONLY
    return [inspect.Parameter("run_async", kind, default=option, annotation=bool)]


def submit_job(op: Operation, request: Any, as_json: bool, actor: Callable[[bool], Any]) -> int:
    """Queue the validated ``request`` as a job of ``op`` (owned by the acting user) and
    print its id; the command's own output options do not apply to a job."""
    from app.services.jobs import submit

    job_id = int(_call(as_json, submit, operation=op.name, request=request, actor=actor(as_json)))
    text = f"job {job_id} queued ({op.name}); follow it with `workbench jobs wait {job_id}`"
    emit({"job_id": job_id, "status": "queued"}, as_json=as_json, text=text)
    return job_id


def add_command(
    target: typer.Typer,
    op: Operation,
    *,
    name: str | None = None,
    extra: Sequence[inspect.Parameter] = (),
    converters: Mapping[str, Convert] | None = None,
    before: Callable[[dict[str, Any], bool], None] | None = None,
    after: After | None = None,
    text: Callable[[Any, dict[str, Any]], str] | None = None,
    actor: Callable[[bool], Any] | None = None,
    exit_code: Callable[[Any], int] | None = None,
) -> Callable[..., None]:
    """Register a command for ``op`` on ``target`` (default name: the operation's last word).

    ``extra`` adds CLI-only options (output shaping, not part of the request);
    ``converters`` turn text options into non-scalar fields (see :data:`Convert`);
    ``before(values, as_json)`` may refuse a combination before any work; ``text``
    replaces the operation's human-readable output; ``actor(as_json)`` replaces how the
    acting user is found (default the CLI's token or password); ``after``
    receives ``(result, payload, extra values, as_json)`` and returns the payload to print;
    ``exit_code(result)`` gives the exit status once it is printed (e.g. 1: a check failed).
    A long operation also gets ``--async``: the validated request is submitted as a job
    (:func:`submit_job`) instead of run.
    """
    extra_names = {p.name for p in extra}
    converters = dict(converters or {})

    def command(**raw: Any) -> None:
        as_json = bool(raw.pop("as_json"))
        run_async = bool(raw.pop("run_async", False))
        FIELD_LABELS.set({name: op.flag(name) for name in op.request.model_fields})
        extras = {k: raw.pop(k) for k in list(raw) if k in extra_names}
        if before is not None:
            before({**raw, **extras}, as_json)
        request = build_request(op, {**raw, **extras}, as_json, converters)
        if run_async:
            submit_job(op, request, as_json, actor or _actor)
            return
        context = {"actor": (actor or _actor)(as_json)} if op.actor else {}
        result = _call(as_json, op.run, request=request, **context)
        payload = op.payload(result)
        if after is not None:
            payload = after(result, payload, extras, as_json)
        render = text or op.text
        emit(payload, as_json=as_json, text=render(result, payload) if render else None)
        code = 0 if exit_code is None else exit_code(result)
        if code:
            raise typer.Exit(code)

    json_param = inspect.Parameter(
        "as_json", inspect.Parameter.KEYWORD_ONLY, default=JSON_OPT, annotation=bool
    )
    params = [*request_options(op, converters), *extra, *_async_param(op), json_param]
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = op.summary
    command.__name__ = op.name.replace(" ", "_").replace("-", "_")
    target.command(name or op.name.split()[-1], help=op.summary)(command)
    return command


__all__ = ["add_command", "build_request", "extra_option", "request_options", "submit_job"]
