"""The OpenAPI schema: request bodies that routes parse themselves, error responses, and configured limits.

Routes read their own bodies (see :mod:`service.payloads`), so their request schemas are declared
here and added to the components; the configured limits (text length, batch size, served profiles)
are written into the schema so that clients and the schemathesis test see the real bounds.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from .schemas import BatchItem, BatchRequest, ErrorBody, ScreenRequest
from .settings import ServiceSettings

_ERROR_DESCRIPTIONS = {
    401: "No valid API key (only when the service is configured with keys).",
    413: "Body, text or batch over the configured limit (`body_too_large`, `text_too_long`, `batch_too_large`).",
    415: "Unsupported media type or file format (`unsupported_media_type`, `unsupported_format`).",
    422: "Malformed JSON, a missing, unknown or wrong field (named in the message), an unreadable or empty "
    "document (`unreadable_pdf`, `unreadable_docx`, `empty_document`, ...), or a profile not served here.",
    503: "Engines still loading (`not_ready`) or a profile that failed to load (`profile_unavailable`).",
}
_REQUEST_MODELS: tuple[type[BaseModel], ...] = (ScreenRequest, BatchRequest, BatchItem)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for the given error statuses, all with the error body."""
    return {status: {"model": ErrorBody, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(model_name: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that takes a JSON body of a component schema."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": _ref(model_name)}}}}


def screen_body() -> dict[str, Any]:
    """``openapi_extra`` of ``POST /v1/screen``: JSON, or a multipart upload of one file."""
    upload = {
        "type": "object",
        "required": ["file", "profile"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "The document: .txt, .md, .html, .pdf or .docx (the name's suffix decides)."},
            "profile": {"type": "string", "enum": ["supplier", "recruitment"]},
            "id": {"type": "string", "minLength": 1, "maxLength": 512,
                   "description": "Your identifier; defaults to the file name."},
            "include_text": {"type": "boolean", "default": False,
                             "description": "Return the extracted text in the result."},
        },
        "additionalProperties": False,
    }
    return {"requestBody": {"required": True, "content": {
        "application/json": {"schema": _ref("ScreenRequest")},
        "multipart/form-data": {"schema": upload},
    }}}


def _add_components(schema: dict[str, Any], settings: ServiceSettings) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in _REQUEST_MODELS:
        js = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(js.pop("$defs", {}))
        components[model.__name__] = js
    components["ScreenRequest"]["properties"]["text"]["maxLength"] = settings.max_text_chars
    components["BatchItem"]["properties"]["text"]["maxLength"] = settings.max_text_chars
    components["BatchRequest"]["properties"]["documents"]["maxItems"] = settings.max_batch_size
    served = list(settings.profiles)
    components["ScreenRequest"]["properties"]["profile"]["enum"] = served
    components["BatchRequest"]["properties"]["profile"]["enum"] = served
    upload = schema["paths"]["/v1/screen"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    upload["properties"]["profile"]["enum"] = served


def _drop_security_when_open(schema: dict[str, Any], settings: ServiceSettings) -> None:
    # Without configured keys no request needs one; the schema should not claim otherwise.
    if settings.api_keys:
        return
    schema.get("components", {}).pop("securitySchemes", None)
    for item in schema["paths"].values():
        for operation in item.values():
            operation.pop("security", None)
            operation.get("responses", {}).pop("401", None)


def install_openapi(app: FastAPI, settings: ServiceSettings) -> None:
    """Make ``app.openapi()`` build the schema described above (once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes, tags=app.openapi_tags)
            _add_components(schema, settings)
            _drop_security_when_open(schema, settings)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
