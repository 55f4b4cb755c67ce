"""Operations as data: one descriptor per user-facing operation.

An :class:`Operation` names the typed pydantic request, the service function that runs it
(as a lazily imported ``"module:function"`` path) and how its typed result becomes a JSON
payload. Every front end is generated from it: the CLI's options, defaults and help
(:func:`app.cli._generate.add_command`), the form error messages
(:func:`app.operations.errors.field_errors`), and later the job runner and the REST API.
Defaults live only in the request model.

A service function behind an operation takes the request as ``request=`` and may accept
``actor=`` (role checks), ``progress=`` (a :data:`Progress` callback) and ``cancel=`` (a
:class:`CancelToken`), all keyword-only.

>>> from app.operations import get
>>> get("backtest").request.__name__
'BacktestRequest'
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # requests are pydantic models; the registry itself needs no pydantic
    from pydantic import BaseModel

Progress = Callable[[float, str], None]
"""``progress(fraction, message)``: fraction in [0, 1], message for the user."""

FEATURES: tuple[str, ...] = (
    "regime",
    "backtest",
    "universe",
    "sweep",
    "abtest",
    "registry",
    "predict",
    "training",
    "walkforward",
    "risk",
    "data",
    "alerts",
    "auth",
    "ensemble",
    "retrain",
    "paper",
    "runs",
    "report_pack",
    "system",
)
"""Modules of ``app/operations`` that declare operations (imported by :func:`all_operations`)."""


class Cancelled(Exception):
    """Raised inside long work when its :class:`CancelToken` was cancelled."""


class CancelToken:
    """A thread-safe cancellation flag that long work checks between chunks.

    >>> token = CancelToken()
    >>> token.cancelled
    False
    >>> token.cancel("user asked")
    >>> token.cancelled, token.reason
    (True, 'user asked')
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "") -> None:
        """Ask the work to stop at its next check."""
        self.reason = reason
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` if cancelled; call between chunks of work."""
        if self._event.is_set():
            raise Cancelled(self.reason or "cancelled")


@dataclass(frozen=True, kw_only=True)
class Flag:
    """How one request field is offered on the command line (all optional).

    Attributes
    ----------
    name : str, optional
        The flag, e.g. ``"--trials"``; default ``--field-name``. A boolean may name both
        sides, e.g. ``"--flatten/--keep-positions"`` (default ``--name/--no-name``).
    help : str, optional
        Help text; default the field's description.
    hidden : bool
        Not offered on the command line (the field keeps its model default).
    argument : bool
        A positional argument (``FILE``, ``NAME``) instead of an option.
    prompt : str, optional
        Ask for the value, hidden, when the option is left out (secrets such as URLs).
    confirm : bool
        With ``prompt``: ask twice and require the same answer (new passwords).
    """

    name: str | None = None
    help: str | None = None
    hidden: bool = False
    argument: bool = False
    prompt: str | None = None
    confirm: bool = False


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One user-facing operation: request model, service function, result payload.

    Attributes
    ----------
    name : str
        Unique name, also the CLI command (``"backtest"``, ``"registry promote"``).
    feature : str
        The feature it belongs to (``core/<feature>``, ``app/services/<feature>.py``).
    summary : str
        One line for the CLI help and the API docs.
    request : type of BaseModel
        The typed request; the only place its defaults live.
    service : str
        ``"module:function"`` of the service, imported on first call.
    payload : callable
        ``payload(result) -> dict``: the JSON payload of a result.
    text : callable, optional
        ``text(result, payload) -> str``: the CLI's human-readable output.
    flags : mapping of str to Flag
        CLI overrides per field.
    actor : bool
        Whether the service takes ``actor=`` (role-checked operations).
    long_running : bool
        Whether it reports progress and honours cancellation (a job candidate).
    """

    name: str
    feature: str
    summary: str
    request: type[BaseModel]
    service: str
    payload: Callable[[Any], dict[str, Any]]
    text: Callable[[Any, dict[str, Any]], str] | None = None
    flags: Mapping[str, Flag] = field(default_factory=dict)
    actor: bool = False
    long_running: bool = False

    def function(self) -> Callable[..., Any]:
        """The service function (imported now)."""
        module, name = self.service.split(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def run(self, request: BaseModel, **context: Any) -> Any:
        """Run the service on a validated request (``actor``, ``progress``, ``cancel``)."""
        if not isinstance(request, self.request):
            raise TypeError(f"{self.name} takes a {self.request.__name__}")
        return self.function()(request=request, **context)

    def flag(self, field_name: str) -> str:
        """The CLI flag of ``field_name`` (of a boolean's pair, the first)."""
        custom = self.flags.get(field_name)
        if custom and custom.name:
            return custom.name.split("/")[0]
        return "--" + field_name.replace("_", "-")


_REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    """Add ``operation`` to the registry (names are unique) and return it."""
    if operation.name in _REGISTRY and _REGISTRY[operation.name] is not operation:
        raise ValueError(f"operation {operation.name!r} is declared twice")
    _REGISTRY[operation.name] = operation
    return operation


def all_operations() -> Iterator[Operation]:
    """Every declared operation, feature by feature."""
    for feature in FEATURES:
        importlib.import_module(f"app.operations.{feature}")
    yield from _REGISTRY.values()


def get(name: str) -> Operation:
    """The operation called ``name``; KeyError names the known ones."""
    if name not in _REGISTRY:
        for _ in all_operations():
            pass
    if name not in _REGISTRY:
        raise KeyError(f"unknown operation {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


__all__ = [
    "CancelToken",
    "Cancelled",
    "Flag",
    "Operation",
    "Progress",
    "all_operations",
    "get",
    "register",
]
