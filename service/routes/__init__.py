"""Routes per resource; ``api_router`` gathers the versioned API under ``/v1`` behind the API-key check."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..deps import require_api_key
from . import screen, taxonomy

api_router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])
api_router.include_router(screen.router)
api_router.include_router(taxonomy.router)
