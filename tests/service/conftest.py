"""Fixtures of the service tests: an app with the real engines, and real uvicorn processes on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from screening.errors import TaxonomyError
from screening.taxonomy import PROFILES, load_taxonomy
from service.main import create_app
from service.settings import ServiceSettings

from ..servers import running_service


def _loadable(profile: str) -> bool:
    try:
        load_taxonomy(profile)
    except TaxonomyError:
        return False
    return True


# The profiles whose shipped taxonomy exists; tests cover every one of them.
SERVED = tuple(p for p in PROFILES if _loadable(p))
PROFILE = "recruitment" if "recruitment" in SERVED else SERVED[0]
AD = ("Factory workers needed in Malaysia. Urgent! Start next week.\n"
      "Salary 1500 USD per month, free housing. Pay a 500 USD registration fee before travel.\n"
      "We keep your passport for safekeeping during the contract. No recruitment fee is charged to workers "
      "for the medical check.\nContact our agent on WhatsApp only.")
SUPPLIER_TEXT = ("Workers told auditors that the employer keeps their passports and that overtime is compulsory.\n"
                 "Wages are withheld for three months.\nThe company does not charge recruitment fees.")
SAMPLE = {"recruitment": AD, "supplier": SUPPLIER_TEXT}
# Small limits, so every limit can be reached cheaply.
LIMITS = {"max_body_bytes": 64 * 1024, "max_text_chars": 20_000, "max_batch_size": 5}
READY_TIMEOUT_S = 120.0


def wait_ready(get: Callable[[str], httpx.Response], timeout: float = READY_TIMEOUT_S) -> None:
    """Poll ``/readyz`` through ``get`` (a client's get method) until it answers 200."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = get("/readyz")
        if last.status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"service not ready after {timeout}s: {last.status_code if last else None} "
                         f"{last.text if last else ''}")


@pytest.fixture(scope="session")
def settings() -> ServiceSettings:
    return ServiceSettings(profiles=SERVED, **LIMITS)


@pytest.fixture(scope="session")
def client(settings: ServiceSettings) -> Iterator[TestClient]:
    """A TestClient on an app with the real engines, loaded once for the whole session."""
    with TestClient(create_app(settings)) as c:
        wait_ready(c.get)
        yield c


@contextmanager
def running_server(env: dict[str, str] | None = None, *, log_file: Path | None = None,
                   log_level: str = "warning") -> Iterator[str]:
    """The base URL of ``service.main.run`` in a real uvicorn process serving the test profiles; always stopped.

    The process's output goes to ``log_file`` (a temporary file when not given).
    """
    with running_service({"SCREENING_PROFILES": ",".join(SERVED), **(env or {})}, log_file=log_file,
                         log_level=log_level, ready_timeout=READY_TIMEOUT_S) as server:
        yield server.base


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The base URL of a real uvicorn process serving the app with the test limits."""
    env = {
        "SCREENING_MAX_BODY_BYTES": str(LIMITS["max_body_bytes"]),
        "SCREENING_MAX_TEXT_CHARS": str(LIMITS["max_text_chars"]),
        "SCREENING_MAX_BATCH_SIZE": str(LIMITS["max_batch_size"]),
    }
    with running_server(env) as base:
        yield base
