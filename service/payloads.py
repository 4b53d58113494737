"""Reading request bodies: JSON validated into the request schemas, or one uploaded file.

Bodies are parsed here rather than by FastAPI so that one route can take JSON or a multipart upload,
and so that every failure carries the service's error codes (415, 422 naming the field).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from screening.errors import EmptyDocumentError, UnsupportedFormatError
from screening.ingest import format_of

from .errors import (
    InvalidFieldError,
    MalformedBodyError,
    TextTooLongError,
    UnsupportedMediaTypeError,
    describe_validation_errors,
)
from .schemas import UploadFields

ModelT = TypeVar("ModelT", bound=BaseModel)

# For an upload whose name has no readable suffix, the part's own content type decides.
UPLOAD_MEDIA_TYPES = {
    "text/plain": "txt",
    "text/markdown": "txt",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


def media_type(request: Request) -> str:
    """The request's media type without parameters, lower case ('' when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json(kind: str) -> bool:
    """Whether a media type is JSON (``application/json`` or ``application/*+json``)."""
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def validate(model: type[ModelT], data: Any) -> ModelT:
    """Validate ``data`` into ``model``; a failure names the field and says what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidFieldError(describe_validation_errors(exc.errors())) from None


async def read_json(request: Request) -> Any:
    """The parsed JSON body; 415 for another media type, 422 for a body that is not JSON."""
    kind = media_type(request)
    if not is_json(kind):
        raise UnsupportedMediaTypeError(f"send application/json, not {kind or 'a body without Content-Type'}")
    body = await request.body()
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise MalformedBodyError(f"request body is not valid JSON{where}") from None


@dataclass(frozen=True)
class Upload:
    """One uploaded document: its bytes, the format to read it as, and the form fields beside it."""

    data: bytes
    format: str
    name: str
    fields: UploadFields


def _base_name(filename: str) -> str:
    # Browsers send a bare name, but some clients send a path; keep the last part either way.
    return PureWindowsPath(PurePosixPath(filename).name).name


def upload_format(name: str, content_type: str | None) -> str:
    """The ingest format from the file name's suffix, else from the part's content type; 415 if neither."""
    try:
        return format_of(name)
    except UnsupportedFormatError:
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind in UPLOAD_MEDIA_TYPES:
            return UPLOAD_MEDIA_TYPES[kind]
        raise


async def read_upload(request: Request) -> Upload:
    """The one file of a ``multipart/form-data`` body, with its ``profile``, ``id`` and ``include_text`` fields."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (HTTPException, MultiPartException) as exc:
        detail = exc.detail if isinstance(exc, HTTPException) else exc.message
        raise MalformedBodyError(f"malformed multipart body: {detail}", code="malformed_multipart") from None
    try:
        files = form.getlist("file")
        if len(files) != 1 or not isinstance(files[0], UploadFile):
            raise InvalidFieldError("file: send exactly one file in the form field 'file'")
        upload = files[0]
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if key == "file":
                continue
            if not isinstance(value, str) or key in values:
                raise InvalidFieldError(f"{key}: expected one text value")
            values[key] = value
        fields = validate(UploadFields, values)
        name = _base_name(upload.filename or "")
        fmt = upload_format(name, upload.content_type)
        data = await upload.read()
    finally:
        await form.close()
    return Upload(data, fmt, name, fields)


def check_text(text: str, max_chars: int) -> str:
    """Refuse a text with nothing to screen (422) or longer than ``max_chars`` (413)."""
    if not text.strip():
        raise EmptyDocumentError("document has no text")
    if len(text) > max_chars:
        raise TextTooLongError(f"text is {len(text)} characters; the limit is {max_chars} "
                               "(setting SCREENING_MAX_TEXT_CHARS)")
    return text
