"""Optional API keys: when configured, every /v1 route answers 401 without a valid X-API-Key."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from service import deps
from service.deps import key_matches
from service.main import create_app
from service.settings import ServiceSettings

from .conftest import AD, PROFILE, wait_ready

KEYS = ("first-key-0123456789", "second-key-abcdef")


@pytest.fixture(scope="module")
def keyed(settings: ServiceSettings) -> Iterator[TestClient]:
    with TestClient(create_app(replace(settings, api_keys=KEYS))) as c:
        wait_ready(c.get)
        yield c


def v1_calls() -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/v1/screen", {"json": {"text": AD, "profile": PROFILE}}),
        ("POST", "/v1/screen", {"files": {"file": ("a.txt", AD.encode())}, "data": {"profile": PROFILE}}),
        ("POST", "/v1/screen/batch", {"json": {"profile": PROFILE, "documents": [{"text": AD}]}}),
        ("GET", "/v1/taxonomy", {}),
    ]


def test_every_v1_route_in_the_schema_is_covered_and_documents_the_key(keyed: TestClient) -> None:
    schema = keyed.get("/openapi.json").json()
    paths = {p for p in schema["paths"] if p.startswith("/v1")}
    assert paths == {path for _, path, _ in v1_calls()}
    assert "X-API-Key" in str(schema["components"]["securitySchemes"])
    for path in paths:
        for operation in schema["paths"][path].values():
            assert operation["security"] and "401" in operation["responses"]


@pytest.mark.parametrize(("method", "path", "kwargs"), v1_calls())
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": ""}, {"X-API-Key": "wrong"}, {"X-API-Key": KEYS[0] + "x"},
                                     {"Authorization": f"Bearer {KEYS[0]}"}])
def test_v1_without_a_valid_key_is_401(keyed: TestClient, method: str, path: str, kwargs: dict, headers: dict) -> None:
    r = keyed.request(method, path, headers=headers, **kwargs)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(("method", "path", "kwargs"), v1_calls())
@pytest.mark.parametrize("key", KEYS)
def test_v1_with_any_configured_key_is_served(keyed: TestClient, method: str, path: str, kwargs: dict,
                                              key: str) -> None:
    r = keyed.request(method, path, headers={"X-API-Key": key}, **kwargs)
    assert r.status_code == 200, r.text


def test_bad_requests_without_a_key_still_get_401_first(keyed: TestClient) -> None:
    assert keyed.post("/v1/screen", content=b"{bad", headers={"content-type": "application/json"}).status_code == 401


def test_page_health_and_metrics_need_no_key(keyed: TestClient) -> None:
    for path in ("/", "/healthz", "/readyz", "/metrics", "/static/app.js"):
        assert keyed.get(path).status_code == 200, path


def test_keys_are_compared_in_constant_time_against_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(deps.hmac, "compare_digest", spy)
    assert key_matches(KEYS[0], KEYS)
    assert len(calls) == len(KEYS)  # no early exit on the first match
    assert not key_matches("nope", KEYS)


def test_no_keys_configured_means_open(client: TestClient) -> None:
    assert client.post("/v1/screen", json={"text": AD, "profile": PROFILE}).status_code == 200


def test_api_keys_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_API_KEYS", "env-key-1,env-key-2")
    c = TestClient(create_app())
    assert c.get("/v1/taxonomy").status_code == 401
    assert c.get("/v1/taxonomy", headers={"X-API-Key": "env-key-2"}).status_code != 401
