"""Compose the app: settings, engines loaded in the lifespan, middleware, error handlers and routes.

Run it with ``screening serve`` (see :func:`run`) or ``uvicorn service.main:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from screening import __version__

from .deps import API_KEY_HEADER
from .engines import EngineRegistry
from .errors import install_error_handlers
from .metrics import Metrics
from .middleware import (
    BodyLimitMiddleware,
    BodyTimeoutMiddleware,
    MetricsMiddleware,
    SecurityHeadersMiddleware,
    UnexpectedErrorMiddleware,
)
from .openapi import install_openapi
from .routes import api_router, health, page
from .routes.page import STATIC_DIR
from .settings import ServiceSettings

DESCRIPTION = """Screens supplier documents for indicators of forced labour and job ads for indicators of
deceptive recruitment, and points at the exact words. Results say which **indicators are present**;
they are not findings, and a person decides.

Every error answers `{"error": {"code", "message"}}` with a stable code. When the service is started
with `SCREENING_API_KEYS`, every `/v1` route needs one of the keys in the `X-API-Key` header."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the engines in a worker thread; ``/readyz`` answers 503 until they are loaded."""
    registry: EngineRegistry = app.state.engines
    loading = asyncio.create_task(asyncio.to_thread(registry.load))
    try:
        yield
    finally:
        await loading  # a thread cannot be cancelled; let a load in progress finish before exiting


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the app; the engines are built when it starts, not here."""
    settings = settings or ServiceSettings.from_env()
    # pypdf's warnings about malformed files quote the file's first bytes, which are document content.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    app = FastAPI(
        title="screening",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; the schema is at /openapi.json
        redoc_url=None,
        openapi_tags=[
            {"name": "screening", "description": "Screen documents and get the indicators present with evidence."},
            {"name": "taxonomy", "description": "The indicators each profile looks for, and their sources."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    engines = EngineRegistry(settings.profiles)
    metrics = Metrics(lambda: engines.ready)
    app.state.settings = settings
    app.state.engines = engines
    app.state.metrics = metrics

    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    app.include_router(page.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app, settings)
    known_paths = frozenset({"/", app.openapi_url or "/openapi.json", *app.openapi()["paths"]})

    # Added innermost first: the last one added sees the request first.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_timeout_s)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", API_KEY_HEADER], max_age=600)
    app.add_middleware(UnexpectedErrorMiddleware, known_paths=known_paths)
    app.add_middleware(MetricsMiddleware, metrics=metrics, known_paths=known_paths)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, *, log_level: str = "info") -> None:
    """Serve the app with uvicorn; each of ``workers`` processes loads its own engines.

    Settings come from the ``SCREENING_*`` environment (read by each worker).
    """
    ServiceSettings.from_env()  # fail here, with the variable named, rather than in every worker
    uvicorn.run("service.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, server_header=False, proxy_headers=False)
