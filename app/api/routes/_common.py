"""What the feature routers share: the caller's Actor as a parameter, and bounded ids.

Every router of :mod:`app.api.routes` declares ``dependencies=[Depends(current_actor)]``
(no path under ``/api/v1`` answers without a bearer token) and
``responses=ERROR_RESPONSES`` (the documented error bodies), and a route that acts as
someone takes :data:`Caller`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from app.api.auth import current_actor
from app.operations.fields import ROW_ID_MAX
from app.services.auth import Actor

Caller = Annotated[Actor, Depends(current_actor)]
"""The Actor of the request's bearer token (401 without one)."""

MAX_ID = ROW_ID_MAX
"""The largest row id the database can hold (SQLite's and PostgreSQL's BIGINT)."""

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="Job id (see GET /api/v1/jobs)")]
"""A job id in a path."""

__all__ = ["MAX_ID", "Caller", "JobId"]
