"""The web page at ``/``: static HTML, with its script and styles served from ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def page() -> FileResponse:
    """The screening page: paste or upload, pick a profile, see indicators present and their evidence."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
