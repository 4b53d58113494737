"""Errors of the HTTP layer and the handlers that turn every error into ``{"error": {"code", "message"}}``.

Every error derives from :class:`screening.errors.ScreeningError`, so the codes of the engine (for example
``unreadable_pdf``) reach the client unchanged. A client error never becomes a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from screening.errors import ScreeningError

log = logging.getLogger("screening.service")


class BodyTooLargeError(ScreeningError):
    """The request body is larger than ``max_body_bytes``."""

    code = "body_too_large"
    http_status = 413


class BodyTimeoutError(ScreeningError):
    """The request body did not arrive in full within ``body_timeout_s`` (a slow or stalled client)."""

    code = "body_timeout"
    http_status = 408


class TextTooLongError(ScreeningError):
    """A document's text is longer than ``max_text_chars``."""

    code = "text_too_long"
    http_status = 413


class BatchTooLargeError(ScreeningError):
    """A batch holds more documents than ``max_batch_size``."""

    code = "batch_too_large"
    http_status = 413


class UnsupportedMediaTypeError(ScreeningError):
    """The request body is neither JSON nor, where accepted, a multipart upload."""

    code = "unsupported_media_type"
    http_status = 415


class MalformedBodyError(ScreeningError):
    """The body is not valid JSON (or not a well-formed multipart form)."""

    code = "malformed_json"
    http_status = 422


class InvalidFieldError(ScreeningError):
    """A field is missing, unknown or of the wrong type; the message names it."""

    code = "invalid_field"
    http_status = 422


class ProfileNotServedError(ScreeningError):
    """The profile exists but this service was configured without it."""

    code = "profile_not_served"
    http_status = 422


class UnauthorizedError(ScreeningError):
    """An API key is required and the request has no valid one."""

    code = "unauthorized"
    http_status = 401


class NotReadyError(ScreeningError):
    """The engines are still loading, or one failed to load."""

    code = "not_ready"
    http_status = 503


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    500: "internal",
    503: "not_ready",
}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The one error shape of the service."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))


def describe_validation_errors(errors: Iterable[Mapping[str, Any]], *, drop_prefix: bool = False) -> str:
    """Name each failing field and say what is wrong, without echoing the submitted values."""
    parts = []
    for err in list(errors)[:5]:
        loc = [str(p) for p in err.get("loc", ())]
        if drop_prefix and loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:] if len(loc) > 1 else loc
        field = ".".join(loc) or "body"
        parts.append(f"{field}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


async def _screening_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScreeningError)
    if exc.http_status >= 500 and not isinstance(exc, NotReadyError):
        log.error("%s %s failed: %s", request.method, request.url.path, exc.code)
    headers = {"Retry-After": "5"} if isinstance(exc, NotReadyError) else None
    return error_response(exc.http_status, exc.code, exc.message, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, InvalidFieldError.code, describe_validation_errors(exc.errors(), drop_prefix=True))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every handled error the service's error shape."""
    app.add_exception_handler(ScreeningError, _screening_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
