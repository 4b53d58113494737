"""``POST /v1/screen`` (JSON or one uploaded file) and ``POST /v1/screen/batch``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from screening.errors import ScreeningError
from screening.ingest import Document, bytes_to_text, normalise_text
from screening.results import ScreeningResult, error_result

from ..deps import EnginesDep, MetricsDep, SettingsDep
from ..engines import EngineRegistry
from ..errors import BatchTooLargeError, UnsupportedMediaTypeError
from ..openapi import error_responses, json_body, screen_body
from ..payloads import check_text, is_json, media_type, read_json, read_upload, validate
from ..schemas import BatchEnvelope, BatchItem, BatchResponse, ScreenRequest, ScreenResult

router = APIRouter(prefix="/screen", tags=["screening"])


@router.post(
    "",
    summary="Screen one document",
    description="Send JSON (`text`, `profile`, optional `id` and `include_text`) or a `multipart/form-data` "
    "upload of one file (txt, md, html, pdf or docx) in the field `file`, with `profile` (and optional `id`, "
    "`include_text`) as form fields. The answer is exactly the record `screening scan` writes: the indicators "
    "present, a score, a verdict and the evidence spans (offsets into the screened text).",
    response_model=None,
    responses={200: {"model": ScreenResult, "description": "The result record of the output contract."},
               **error_responses(401, 413, 415, 422, 503)},
    openapi_extra=screen_body(),
)
async def screen(request: Request, settings: SettingsDep, engines: EnginesDep, metrics: MetricsDep) -> JSONResponse:
    """Screen one document sent as JSON text or as an uploaded file."""
    kind = media_type(request)
    if is_json(kind):
        payload = validate(ScreenRequest, await read_json(request))
        profile, doc_id, include_text = payload.profile, payload.id, payload.include_text
        engines.engine(profile)  # fail fast (422/503) before any work
        text = normalise_text(payload.text)
    elif kind == "multipart/form-data":
        upload = await read_upload(request)
        profile, include_text = upload.fields.profile, upload.fields.include_text
        doc_id = upload.fields.id or upload.name or "document"
        engines.engine(profile)
        text = await run_in_threadpool(bytes_to_text, upload.data, upload.format)
    else:
        raise UnsupportedMediaTypeError(
            f"send application/json or multipart/form-data, not {kind or 'a body without Content-Type'}")
    check_text(text, settings.max_text_chars)
    result = await run_in_threadpool(engines.screen, profile, text, doc_id, include_text=include_text)
    metrics.observe_result(result)
    return JSONResponse(result.to_dict(include_text))


def _item_document(n: int, raw: Any, max_chars: int) -> Document:
    """A batch item as a Document; an invalid item becomes a Document carrying its error."""
    fallback_id = str(n)
    if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
        fallback_id = raw["id"]
    try:
        item = validate(BatchItem, raw)
        doc_id = item.id or str(n)
        return Document(doc_id, check_text(normalise_text(item.text), max_chars), source="batch")
    except ScreeningError as exc:
        return Document(fallback_id, source="batch", error=exc)


def _screen_batch(engines: EngineRegistry, batch: BatchEnvelope, max_chars: int) -> list[ScreeningResult]:
    results = []
    for n, raw in enumerate(batch.documents, 1):
        doc = _item_document(n, raw, max_chars)
        if doc.error is not None:
            info = engines.engine(batch.profile).info
            results.append(error_result(doc.id, batch.profile, info, doc.error.code, doc.error.message))
        else:
            results.append(engines.screen_document(batch.profile, doc, include_text=batch.include_text))
    return results


@router.post(
    "/batch",
    summary="Screen several documents",
    description="Screen up to `max_batch_size` documents with one profile. Results come back in the order sent; "
    "an item that is invalid or cannot be screened gets a result with `error` set (and null score and verdict) "
    "instead of failing the batch.",
    response_model=None,
    responses={200: {"model": BatchResponse, "description": "One result per document, in order."},
               **error_responses(401, 413, 415, 422, 503)},
    openapi_extra=json_body("BatchRequest"),
)
async def screen_batch(request: Request, settings: SettingsDep, engines: EnginesDep,
                       metrics: MetricsDep) -> JSONResponse:
    """Screen a list of documents, one result (or error record) per document."""
    batch = validate(BatchEnvelope, await read_json(request))
    if len(batch.documents) > settings.max_batch_size:
        raise BatchTooLargeError(f"batch holds {len(batch.documents)} documents; the limit is "
                                 f"{settings.max_batch_size} (setting SCREENING_MAX_BATCH_SIZE)")
    engines.engine(batch.profile)
    results = await run_in_threadpool(_screen_batch, engines, batch, settings.max_text_chars)
    for result in results:
        metrics.observe_result(result)
    return JSONResponse({"results": [r.to_dict(batch.include_text) for r in results]})
