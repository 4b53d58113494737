"""Fixtures of the API-abuse tests: a real uvicorn process on loopback whose pid is known (for its memory)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ..conftest import ROOT
from ..servers import Server, running_service

pytest.importorskip("service.main")

PROFILE = "supplier"  # its shipped model screens in milliseconds, so load tests measure the service
READY_TIMEOUT_S = 180.0


@contextmanager
def serve(env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``service.main.run`` in its own process on a free loopback port, wait until ready, always stop it."""
    with running_service({"PYTHONPATH": str(ROOT), "SCREENING_PROFILES": PROFILE, **(env or {})},
                         ready_timeout=READY_TIMEOUT_S) as server:
        yield server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve({"SCREENING_BODY_TIMEOUT_S": "3"}) as s:
        yield s
