"""API routes: datasets: list them, validate an uploaded price file, import one.

An upload goes through the same checks as the Data page's
(:func:`app.services.data.validate_file`, :func:`app.services.data.import_upload`); a body
larger than the upload limit (``upload_max_mb``) is refused with a 413 before it is read.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.routing import APIRoute
from starlette.types import Message

from app.api.auth import current_actor
from app.api.errors import ERROR_RESPONSES
from app.api.ops import jsonable
from app.api.paths import API_PREFIX
from app.api.routes._common import Caller
from app.operations.data import DATA_IMPORT, DATA_VALIDATE, FileFormat
from app.services import data
from core.config import get_settings
from core.data.formats import ReadFormat
from core.data.listing import DatasetInfo

MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may carry beyond the file itself (boundaries, headers, fields);
a file inside this slack but over the limit gets the validator's own 422."""


def _too_large(size: int, *, declared: bool) -> str:
    limit = get_settings().upload_max_mb
    told = "declares" if declared else "sent more than"
    return (
        f"the upload {told} {size / 1024**2:.1f} MB, over the {limit:g} MB limit "
        "(upload_max_mb); split the file or raise WORKBENCH_UPLOAD_MAX_MB"
    )


class UploadRoute(APIRoute):
    """A route whose body may be at most the upload limit plus :data:`MULTIPART_SLACK`.

    A larger ``Content-Length`` is refused before the body is read; a body without one is
    counted as it arrives and refused once it passes the limit.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            limit = get_settings().upload_max_bytes + MULTIPART_SLACK
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise HTTPException(413, _too_large(int(declared), declared=True))
            received = 0
            upstream = request.receive

            async def receive() -> Message:
                nonlocal received
                message = await upstream()
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(received, declared=False))
                return message

            return await handler(Request(request.scope, receive))

        return capped


router = APIRouter(
    prefix=f"{API_PREFIX}/datasets",
    tags=["data"],
    dependencies=[Depends(current_actor)],
    responses=ERROR_RESPONSES,
    route_class=UploadRoute,
)


def _form(name: str) -> Any:
    return Form(max_length=64, description=FileFormat.model_fields[name].description)


def file_format(
    date_format: Annotated[str | None, _form("date_format")] = None,
    decimal: Annotated[str | None, _form("decimal")] = None,
    thousands: Annotated[str | None, _form("thousands")] = None,
    delimiter: Annotated[str | None, _form("delimiter")] = None,
    timezone: Annotated[str | None, _form("timezone")] = None,
) -> ReadFormat:
    """The declared format of an upload (422 naming each bad option)."""
    declared = FileFormat(
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        delimiter=delimiter,
        timezone=timezone,
    )
    return declared.read_format()


Format = Annotated[ReadFormat, Depends(file_format)]
PriceFile = Annotated[UploadFile, File(description="CSV or Parquet price file")]


def _contents(file: UploadFile) -> tuple[str, bytes]:
    """The upload's file name (without folders) and bytes."""
    return Path(file.filename or "upload").name or "upload", file.file.read()


@router.get(
    "",
    summary="List datasets",
    description="Every dataset (embedded and imported) with its symbols, their date ranges, "
    "bar counts, columns and bar interval: the `datasets` of `workbench data list --json`.",
    response_model=list[DatasetInfo],
)
def list_datasets() -> list[DatasetInfo]:
    return data.list_datasets()


@router.post(
    "/validate",
    summary="Validate a price file",
    description="Upload a CSV or Parquet file (multipart field `file`, optional format fields) "
    "and get the checks of the Data page's upload: rows, dates, columns and warnings of a "
    "valid file, or a 422 listing every defect in `defects`. Nothing is stored. A body over "
    "the upload limit (`upload_max_mb`) gets a 413.",
)
def validate_upload(file: PriceFile, fmt: Format) -> dict[str, Any]:
    name, payload = _contents(file)
    checked = data.validate_file(name, payload, fmt)
    return jsonable(DATA_VALIDATE.payload(data.FileCheck(Path(name), checked)))  # type: ignore[no-any-return]


@router.post(
    "",
    summary="Import a price file as a dataset",
    description="Validate an uploaded CSV or Parquet file as `validate` does and store it as "
    "dataset `uploads/<name>`, all or nothing (the analyst role). A bad or taken name, or "
    "any defect of the file, gives a 422 and stores nothing.",
)
def import_upload(
    actor: Caller,
    file: PriceFile,
    fmt: Format,
    name: Annotated[str, Form(min_length=1, max_length=64, description="Dataset name")],
) -> dict[str, Any]:
    filename, payload = _contents(file)
    result = data.import_upload(name, filename, payload, fmt, actor=actor)
    return jsonable(DATA_IMPORT.payload(result))  # type: ignore[no-any-return]
