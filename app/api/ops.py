"""The one way a route runs an operation: the same descriptor, service and payload as the CLI.

>>> from app.api.ops import jsonable
>>> jsonable({"a": float("nan"), "b": [1.5, float("inf")]})
{'a': None, 'b': [1.5, None]}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from app.api.errors import InvalidRequest
from app.operations import get
from app.services.auth import Actor

_LEADING_NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?=:|\s+(?:must|is|should|needs|cannot))")


def jsonable(value: Any) -> Any:
    """``value`` as JSON would carry it: what ``workbench ... --json`` prints, with a
    non-finite number (NaN, infinity) as null, since JSON has none."""
    plain = json.loads(json.dumps(value, default=str))
    return _finite(plain)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _named_field(message: str, fields: set[str]) -> str | None:
    """The request field a service's message starts with (``"stop: ..."``), if any."""
    match = _LEADING_NAME.match(message)
    return match.group(1) if match and match.group(1) in fields else None


def run_operation(name: str, request: BaseModel | dict[str, Any], actor: Actor) -> dict[str, Any]:
    """Run the operation ``name`` on ``request`` as ``actor`` and return its JSON payload.

    ``request`` is the operation's own request model (a dict is validated into one). The
    service gets ``actor=`` when it checks roles. A ValueError naming a request field is
    raised again as :class:`~app.api.errors.InvalidRequest`, so the 422 says which field.
    """
    op = get(name)
    if not isinstance(request, op.request):
        request = op.request.model_validate(
            request.model_dump() if isinstance(request, BaseModel) else request
        )
    context: dict[str, Any] = {"actor": actor} if op.actor else {}
    try:
        result = op.run(request, **context)
    except ValidationError:
        raise
    except ValueError as exc:
        if hasattr(exc, "defects"):
            raise
        field = _named_field(str(exc), set(op.request.model_fields))
        if field is None:
            raise
        raise InvalidRequest(str(exc), field) from exc
    return jsonable(op.payload(result))  # type: ignore[no-any-return]


__all__ = ["jsonable", "run_operation"]
