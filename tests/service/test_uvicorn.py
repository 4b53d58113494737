"""A real uvicorn process (started through service.main.run) on a free loopback port, called over HTTP."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import httpx
import pytest

from ..docgen import make_docx
from ..helpers import assert_contract
from .conftest import AD, LIMITS, PROFILE, SERVED, running_server

pytestmark = pytest.mark.slow
TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def test_health_ready_and_page_over_http(server: str) -> None:
    assert httpx.get(f"{server}/healthz", timeout=TIMEOUT).json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz", timeout=TIMEOUT).json()["status"] == "ready"
    page = httpx.get(f"{server}/", timeout=TIMEOUT)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "server" not in page.headers  # run() turns the server header off


@pytest.mark.parametrize("profile", SERVED)
def test_screen_json_over_http(server: str, profile: str) -> None:
    r = httpx.post(f"{server}/v1/screen", json={"text": AD, "profile": profile, "include_text": True}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert_contract(r.json(), r.json()["text"])


def test_upload_and_batch_over_http(server: str) -> None:
    r = httpx.post(f"{server}/v1/screen", files={"file": ("ad.docx", make_docx(AD.splitlines()))},
                   data={"profile": PROFILE}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["id"] == "ad.docx"
    r = httpx.post(f"{server}/v1/screen/batch", json={"profile": PROFILE, "documents": [{"text": AD}, {"text": ""}]},
                   timeout=TIMEOUT)
    results = r.json()["results"]
    assert [x["id"] for x in results] == ["1", "2"] and results[1]["error"]["code"] in ("invalid_field",)


def test_chunked_body_over_the_limit_is_413_over_http(server: str) -> None:
    """Without Content-Length the limit is enforced while the body streams in."""
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/screen")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"a" * 8192
        try:
            for _ in range(LIMITS["max_body_bytes"] // len(chunk) + 4):
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before the whole body is sent
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "body_too_large"
    finally:
        conn.close()


def test_content_length_over_the_limit_is_413_over_http(server: str) -> None:
    r = httpx.post(f"{server}/v1/screen", content=b"x" * (LIMITS["max_body_bytes"] + 1),
                   headers={"content-type": "application/json"}, timeout=TIMEOUT)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_errors_over_http_have_the_error_shape(server: str) -> None:
    for r in (
        httpx.post(f"{server}/v1/screen", content=b"{", headers={"content-type": "application/json"}, timeout=TIMEOUT),
        httpx.post(f"{server}/v1/screen", content=b"hi", headers={"content-type": "text/plain"}, timeout=TIMEOUT),
        httpx.get(f"{server}/nothing-here", timeout=TIMEOUT),
    ):
        assert 400 <= r.status_code < 500 and set(r.json()["error"]) == {"code", "message"}


def test_metrics_over_http(server: str) -> None:
    httpx.post(f"{server}/v1/screen", json={"text": AD, "profile": PROFILE}, timeout=TIMEOUT)
    body = httpx.get(f"{server}/metrics", timeout=TIMEOUT).text
    assert "screening_documents_total" in body and "Malaysia" not in body


def test_api_keys_over_http() -> None:
    with running_server({"SCREENING_API_KEYS": "k-123456789", "SCREENING_PROFILES": PROFILE}) as base:
        body = {"text": AD, "profile": PROFILE}
        assert httpx.post(f"{base}/v1/screen", json=body, timeout=TIMEOUT).status_code == 401
        ok = httpx.post(f"{base}/v1/screen", json=body, headers={"X-API-Key": "k-123456789"}, timeout=TIMEOUT)
        assert ok.status_code == 200
        assert httpx.get(f"{base}/healthz", timeout=TIMEOUT).status_code == 200


def test_document_text_never_reaches_the_server_log(tmp_path) -> None:
    marker = "Qwertyuiop marker sentence of the document"
    log_path = tmp_path / "server.log"
    with running_server({"SCREENING_PROFILES": PROFILE}, log_file=log_path, log_level="debug") as base:
        calls = [
            {"json": {"text": f"{marker}. {AD}", "profile": PROFILE, "id": "x"}},
            {"files": {"file": ("x.pdf", marker.encode())}, "data": {"profile": PROFILE}},
            {"files": {"file": ("y.pdf", b"%PD" + marker.encode())}, "data": {"profile": PROFILE}},
            {"files": {"file": ("x.txt", marker.encode())}, "data": {"profile": PROFILE}},
            {"json": {"text": marker, "profile": "nonsense"}},
            {"json": {"text": marker * 5000, "profile": PROFILE}},
        ]
        for kwargs in calls:
            assert httpx.post(f"{base}/v1/screen", timeout=TIMEOUT, **kwargs).status_code < 500
    log = log_path.read_text(errors="replace")
    assert "POST /v1/screen" in log  # the access log is there
    assert "Qwert" not in log
