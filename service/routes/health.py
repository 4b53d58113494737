"""``/healthz`` (the process is up), ``/readyz`` (every engine is loaded) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from ..deps import EnginesDep, MetricsDep
from ..errors import NotReadyError
from ..openapi import error_responses
from ..schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up", response_model=HealthResponse)
def healthz() -> dict[str, str]:
    """Answer as long as the process serves requests, whether or not the engines are loaded."""
    return {"status": "ok"}


@router.get("/readyz", summary="Every engine is loaded", response_model=ReadyResponse,
            responses=error_responses(503))
def readyz(engines: EnginesDep) -> dict[str, Any]:
    """200 once every configured profile's engine is loaded; 503 while loading or after a failure."""
    status = engines.status()
    if not engines.ready:
        states = ", ".join(f"{p} {s.state}" + (f" ({s.error})" if s.error else "") for p, s in status.items())
        code = "engine_failed" if engines.failures() else "not_ready"
        raise NotReadyError(f"not ready: {states}", code=code)
    return {"status": "ready", "profiles": {p: asdict(s) for p, s in status.items()}}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format: requests, latency, documents by verdict."}},
)
def metrics(metrics: MetricsDep) -> Response:
    """Counters and histogram in the Prometheus text format; no label ever carries document text."""
    return Response(metrics.render(), media_type=metrics.content_type)
