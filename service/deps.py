"""Typed dependencies: the settings, the engines, the metrics, and the API-key check of ``/v1``."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from .engines import EngineRegistry
from .errors import UnauthorizedError
from .metrics import Metrics
from .settings import ServiceSettings

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                        description="Required when the service is started with SCREENING_API_KEYS.")


def get_settings(request: Request) -> ServiceSettings:
    """The settings the app was created with."""
    settings: ServiceSettings = request.app.state.settings
    return settings


def get_engines(request: Request) -> EngineRegistry:
    """The app's engine registry (engines may still be loading)."""
    engines: EngineRegistry = request.app.state.engines
    return engines


def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
EnginesDep = Annotated[EngineRegistry, Depends(get_engines)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def key_matches(given: str, keys: tuple[str, ...]) -> bool:
    """Compare ``given`` with every configured key in constant time (no early exit on a match)."""
    given_bytes = given.encode("utf-8", "surrogateescape")
    found = False
    for key in keys:
        found |= hmac.compare_digest(given_bytes, key.encode("utf-8", "surrogateescape"))
    return found


def require_api_key(settings: SettingsDep, api_key: Annotated[str | None, Security(_api_key)] = None) -> None:
    """Let the request through when no keys are configured, or when ``X-API-Key`` holds one of them."""
    if not settings.api_keys:
        return
    if not api_key or not key_matches(api_key, settings.api_keys):
        raise UnauthorizedError(f"a valid API key is required in the {API_KEY_HEADER} header")
