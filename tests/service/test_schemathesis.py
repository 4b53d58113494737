"""schemathesis against the app's own OpenAPI schema, over HTTP to a real uvicorn: no 5xx, no schema violations.

The operations are read from the app's schema at collection time; each is exercised with valid and invalid
generated requests (hypothesis, bounded and derandomised) and every answer is validated against the schema.
Which invalid requests are refused, and with which code, is tested explicitly in test_limits.py (a 413 for an
oversized invalid body is right, but schemathesis's own rejection check does not count 413 as a refusal).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app
from service.settings import ServiceSettings

from .conftest import SERVED

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
PATHS = create_app(ServiceSettings(profiles=SERVED)).openapi()["paths"]
OPERATIONS = [(method.upper(), path, mode)
              for path, item in PATHS.items()
              for method, operation in item.items()
              # an operation without inputs has no invalid request to make
              for mode in ([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
                           if operation.get("parameters") or operation.get("requestBody") else
                           [GenerationMode.POSITIVE])]
# Bounded and repeatable in CI; SCREENING_FUZZ_EXAMPLES=500 explores further (and randomly) on demand.
MAX_EXAMPLES = int(os.environ.get("SCREENING_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = "SCREENING_FUZZ_EXAMPLES" not in os.environ


@pytest.fixture(scope="module")
def api_schema(server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{server}/openapi.json", timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {g.value}" for m, p, g in OPERATIONS])
def test_api_conforms_to_its_own_schema(api_schema: schemathesis.BaseSchema, server: str, method: str, path: str,
                                        mode: GenerationMode) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=server, checks=CHECKS, timeout=60)
        statuses.append(response.status_code)

    statuses: list[int] = []
    exercise()
    assert statuses and max(statuses) < 500, statuses  # cases ran, and none was a server error
