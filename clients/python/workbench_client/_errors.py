"""Errors of the API as exceptions: one class per status, each carrying the JSON body."""

from __future__ import annotations

from typing import Any

from workbench_client._types import FieldProblem


class WorkbenchError(Exception):
    """An error response of the API.

    Attributes
    ----------
    status : int
        The HTTP status.
    error : str
        The API's code: ``unauthorized``, ``forbidden``, ``not_found``, ``conflict``,
        ``invalid_request``, ``rate_limited``, ``internal``, ...
    detail : str
        A plain sentence saying what went wrong and what to do.
    fields : list of FieldProblem
        For a 422: one problem per request field (``field``, ``label``, ``message``).
    error_id : str or None
        For a 500: the id under which the server logged the traceback.
    body : dict
        The whole JSON body (e.g. ``defects`` of a rejected dataset).
    """

    def __init__(
        self,
        status: int,
        error: str,
        detail: str,
        *,
        fields: list[FieldProblem] | None = None,
        error_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail
        self.fields: list[FieldProblem] = list(fields or [])
        self.error_id = error_id
        self.body: dict[str, Any] = dict(body or {})


class Unauthorized(WorkbenchError):
    """401: no token, or an unknown, expired or revoked one."""


class Forbidden(WorkbenchError):
    """403: the token's user lacks the role the action needs."""


class NotFound(WorkbenchError):
    """404: what the request names does not exist."""


class Conflict(WorkbenchError):
    """409: the request clashes with the current state (stale limits, unfinished job)."""


class InvalidRequest(WorkbenchError):
    """422: invalid input; :attr:`fields` says what is wrong with each field."""


class RateLimited(WorkbenchError):
    """429: too many requests for this token; wait :attr:`retry_after` seconds."""

    def __init__(self, *args: Any, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(WorkbenchError):
    """5xx: an internal error (quote :attr:`error_id` to the operator) or not ready."""


class JobTimeout(TimeoutError):
    """:meth:`WorkbenchClient.wait_job` gave up before the job finished."""

    def __init__(self, job_id: int, status: str, timeout_s: float) -> None:
        super().__init__(f"job {job_id} is still {status} after {timeout_s:g} s")
        self.job_id = job_id
        self.status = status


_BY_STATUS: dict[int, type[WorkbenchError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidRequest,
    429: RateLimited,
}


def error_for(status: int, body: Any, headers: dict[str, str]) -> WorkbenchError:
    """The exception for an error response (``body``: its decoded JSON, or its text)."""
    data: dict[str, Any] = body if isinstance(body, dict) else {"detail": str(body)}
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else WorkbenchError)
    error = str(data.get("error") or f"http_{status}")
    detail = str(data.get("detail") or data.get("reason") or f"HTTP {status}")
    raw_fields = data.get("fields") or []
    fields = [
        FieldProblem(field=f.get("field"), label=f.get("label"), message=str(f.get("message", "")))
        for f in raw_fields
        if isinstance(f, dict)
    ]
    kwargs: dict[str, Any] = {
        "fields": fields,
        "error_id": data.get("error_id"),
        "body": data,
    }
    if cls is RateLimited:
        kwargs["retry_after"] = retry_after_seconds(headers, data)
    return cls(status, error, detail, **kwargs)


def retry_after_seconds(headers: dict[str, str], data: dict[str, Any]) -> float:
    """Seconds to wait from ``Retry-After`` (delta-seconds) or the body's ``retry_after_s``."""
    for raw in (data.get("retry_after_s"), headers.get("retry-after")):
        try:
            if raw is not None:
                return max(0.0, float(raw))
        except (TypeError, ValueError):
            continue
    return 1.0
