"""Exception handlers: one JSON shape for every error, an error id for a 500.

Every error body is ``{"error": <code>, "detail": <plain sentence>, ...}``:

- 401 ``unauthorized`` (with ``WWW-Authenticate: Bearer``), 403 ``forbidden``
  (:class:`PermissionError`, e.g. a service's ``require``), 404 ``not_found``
  (:class:`LookupError`, :class:`KeyError`, an unknown path), 409 ``conflict``
  (:class:`Conflict`), 429 ``rate_limited`` (:class:`RateLimited`, with ``Retry-After``);
- 422 ``invalid_request``: a bad body or query, a pydantic error or a :class:`ValueError`
  raised in a service, a data source that could not deliver; ``fields`` lists one plain
  sentence per field (:func:`app.operations.errors.field_errors`), ``defects`` the
  problems of a rejected dataset;
- 500 ``internal``: any other exception. The body carries only an ``error_id`` (12 hex);
  the traceback is logged with that id under the logger ``workbench.api`` (stderr and
  ``var_dir/logs/api.log``), never sent.

Routes raise plain exceptions; these handlers map them.
"""

from __future__ import annotations

import logging
import math
import secrets
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.operations.errors import TYPE_WORDS, field_errors, humanize, labels_of

LOG = logging.getLogger("workbench.api")
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form"}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal",
}


class Conflict(Exception):
    """The request clashes with the current state (stale version, job not finished, ...)."""


class NotFound(LookupError):
    """What the request names does not exist (404)."""


class RateLimited(Exception):
    """Too many requests for this token; retry after :attr:`retry_after_s` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidRequest(ValueError):
    """A service's ValueError about one request field (:func:`app.api.ops.run_operation`)."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.field = field


class FieldProblem(BaseModel):
    """One problem with one request field."""

    field: str | None = Field(description="The request field (JSON name), if one")
    label: str | None = Field(description="The field as a person reads it")
    message: str = Field(description="A plain sentence: what is wrong and the valid range")


class ErrorBody(BaseModel):
    """Every error response."""

    error: str = Field(description="A code: unauthorized, forbidden, not_found, conflict, ...")
    detail: str = Field(description="A plain sentence saying what went wrong and what to do")
    fields: list[FieldProblem] | None = Field(default=None, description="422: per field")
    defects: list[dict[str, Any]] | None = Field(
        default=None, description="422: the problems of a rejected dataset"
    )
    error_id: str | None = Field(default=None, description="500: quote it to the operator")
    retry_after_s: float | None = Field(default=None, description="429: seconds to wait")


def _doc(text: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": text}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _doc("No bearer token, or it is unknown, expired or revoked"),
    403: _doc("The token's user lacks the role this action needs"),
    404: _doc("What the request names does not exist"),
    409: _doc("The request clashes with the current state"),
    422: _doc("Invalid input: one plain sentence per field in `fields`"),
    429: _doc("Too many requests for this token; see Retry-After"),
    500: _doc("An internal error; quote `error_id` to the operator"),
}
"""For a route's ``responses=``: the documented error bodies."""


def body(status: int, detail: str, **extra: Any) -> JSONResponse:
    """The JSON error response (``None`` fields left out)."""
    content = {"error": _CODES.get(status, "error"), "detail": detail}
    content.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(content, status_code=status)


def _problems(exc: Exception, model: type[BaseModel] | None = None) -> list[dict[str, Any]]:
    """One problem per field: the sentence a page and the CLI show, and the field's label
    (the request model's, :func:`app.operations.errors.labels_of`)."""
    names = labels_of(exc, model)
    out = []
    for problem in field_errors(exc, model=model):
        name = ".".join(problem.path) if problem.path else problem.field
        leaf = problem.path[-1] if problem.path else problem.field
        label = names.get(str(leaf), humanize(str(leaf))) if leaf else None
        out.append({"field": name, "label": label, "message": problem.message})
    return out


class _Stripped:
    """Validation errors with, when ``located``, FastAPI's location ("body", "query")
    removed from the front of each, and a missing body named as the request's."""

    def __init__(self, errors: list[dict[str, Any]], *, located: bool = True) -> None:
        self._errors = []
        for item in errors:
            loc = list(item.get("loc", ()))
            where = loc[0] if located and loc and loc[0] in _LOCATIONS else None
            loc = loc[1:] if where else loc
            kind = str(item.get("type", ""))
            name = humanize(str(loc[-1])) if loc else f"The request {where or 'body'}"
            if not loc and kind == "missing":
                item = {**item, "type": "value_error", "msg": f"{name} is required"}
            elif not loc and kind in TYPE_WORDS:  # the body itself: no field label to use
                item = {**item, "type": "value_error", "msg": f"{name} {TYPE_WORDS[kind]}"}
            self._errors.append({**item, "loc": tuple(loc)})

    def errors(self) -> list[dict[str, Any]]:
        return self._errors


def _body_model(request: Request) -> type[BaseModel] | None:
    """The request model of the route's JSON body, if the route has one."""
    field = getattr(request.scope.get("route"), "body_field", None)
    annotation = getattr(getattr(field, "field_info", None), "annotation", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        why = next(str((e.get("ctx") or {}).get("error", "")) for e in errors)
        detail = f"The request body is not valid JSON ({why}); send a JSON object."
        return body(422, detail, fields=[{"field": None, "label": None, "message": detail}])
    model = _body_model(request)
    problems = _problems(_Stripped(errors), model=model)  # type: ignore[arg-type]
    return body(422, " ".join(p["message"] for p in problems), fields=problems)


def _model_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    problems = _problems(_Stripped(list(exc.errors()), located=False))  # type: ignore[arg-type]
    return body(422, " ".join(p["message"] for p in problems), fields=problems)


def _value_error(request: Request, exc: Exception) -> JSONResponse:
    defects = getattr(exc, "defects", None)
    if defects is not None and all(hasattr(d, "as_dict") for d in defects):
        return body(422, str(exc), defects=[d.as_dict() for d in defects])
    if not str(exc).strip():
        exc = ValueError(type(exc).__name__)
    problems = _problems(exc)
    for p in problems:
        p["message"] = p["message"][:1].upper() + p["message"][1:].rstrip(".") + "."
    return body(422, " ".join(p["message"] for p in problems), fields=problems)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return body(403, _message(exc))


def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return body(404, _message(exc))


def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return body(409, _message(exc))


def _rate_limited(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RateLimited)
    wait = max(exc.retry_after_s, 0.0)
    response = body(429, str(exc), retry_after_s=round(wait, 3))
    response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return response


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such path: {request.method} {request.url.path}; see /docs for the paths"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}; see /docs"
    response = body(exc.status_code, detail)
    response.headers.update(exc.headers or {})
    if exc.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", "Bearer")
    return response


def log_file() -> Path:
    """Where the API logs its internal errors (besides stderr)."""
    from core.config import get_settings

    return get_settings().var_dir / "logs" / "api.log"


def _handlers() -> None:
    """Log to stderr once, and to the current runtime folder's log file."""
    path = log_file()
    LOG.setLevel(logging.INFO)
    kinds = {type(h): h for h in LOG.handlers}
    if logging.StreamHandler not in kinds:
        LOG.addHandler(logging.StreamHandler(sys.stderr))
    current = kinds.get(logging.FileHandler)
    if isinstance(current, logging.FileHandler) and Path(current.baseFilename) == path:
        return
    if current is not None:
        LOG.removeHandler(current)
        current.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    LOG.addHandler(handler)


def internal_error(scope: Scope, exc: BaseException) -> JSONResponse:
    """Log ``exc`` with its traceback under a new error id; the 500 body names only the id."""
    error_id = secrets.token_hex(6)
    try:
        _handlers()
    except OSError:  # an unwritable runtime folder must not hide the error itself
        pass
    LOG.error(
        "error_id=%s %s %s: %s",
        error_id,
        scope.get("method", ""),
        scope.get("path", ""),
        type(exc).__name__,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    detail = f"an internal error; quote error id {error_id} to the operator"
    return body(500, detail, error_id=error_id)


class CatchAll:
    """ASGI middleware: any unhandled exception becomes the logged 500 (inside the metrics
    middleware, so a 500 is counted as one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:  # too late for a JSON body: log it and close the connection
                internal_error(scope, exc)
                raise
            await internal_error(scope, exc)(scope, receive, send)


def install(api: FastAPI) -> None:
    """Register the workbench's exception handlers (and the catch-all 500) on ``api``."""
    from core.data.loaders import DataSourceError

    api.add_middleware(CatchAll)
    handlers: list[tuple[type[Exception], Any]] = [
        (RequestValidationError, _request_invalid),
        (ValidationError, _model_invalid),
        (ValueError, _value_error),
        (DataSourceError, _value_error),
        (PermissionError, _forbidden),
        (LookupError, _not_found),
        (Conflict, _conflict),
        (RateLimited, _rate_limited),
        (HTTPException, _http),
    ]
    for kind, handler in handlers:
        api.add_exception_handler(kind, handler)


__all__ = [
    "ERROR_RESPONSES",
    "Conflict",
    "ErrorBody",
    "FieldProblem",
    "InvalidRequest",
    "NotFound",
    "RateLimited",
    "body",
    "install",
    "internal_error",
    "log_file",
]
