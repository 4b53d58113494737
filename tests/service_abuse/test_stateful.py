"""Stateful abuse of the API: long random sequences of good and bad requests (issue 8, part 3).

schemathesis's stateful mode follows OpenAPI links between operations, and this API has none: it keeps no
resources, so ``schema.as_state_machine()`` raises ``NoLinksFound``. The state worth checking across a
sequence is the service's own: that no sequence of requests (invalid keys, malformed bodies, uploads whose
names try path traversal, oversized batches) leads to a 5xx, a wrong status for the key, a record outside
the contract, or metrics that disagree with what was asked. A hypothesis state machine drives that.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ..docgen import make_docx, make_pdf
from ..helpers import assert_contract
from .conftest import PROFILE

pytest.importorskip("service.main")
from fastapi.testclient import TestClient  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from service.main import create_app  # noqa: E402
from service.settings import ServiceSettings  # noqa: E402

pytestmark = pytest.mark.slow
KEY = "k-abuse-0123456789"
LIMITS = {"max_body_bytes": 64 * 1024, "max_text_chars": 5_000, "max_batch_size": 4}
ROUTES = {"/v1/screen", "/v1/screen/batch", "/v1/taxonomy", "/healthz", "/readyz", "/metrics", "/"}
TEXTS = st.one_of(
    st.sampled_from(("The employer keeps the workers' passports.", "Overtime is compulsory and unpaid.",
                     "We prohibit the retention of passports.", "", "   ", "x" * 6_000)),
    st.text(max_size=80),
)
KEYS = st.sampled_from((KEY, None, "", "wrong", KEY + "x", KEY[:-1], KEY.upper()))
UPLOAD_NAMES = st.sampled_from(("a.txt", "../../etc/passwd.txt", "..\\..\\boot.ini.txt", "/abs/path/r.pdf",
                                "C:\\Users\\x\\r.docx", "dir/../../up.html", "noext", "x.exe", "ok.md"))
UPLOAD_DATA = st.sampled_from((b"The employer keeps the workers' passports.", make_pdf(["Wages are withheld."]),
                               make_docx(["Debt bondage was found."]), b"<p>hi</p><![ x", b"\x00\x01\x02", b"",
                               b"%PDF-1.4 broken"))


@pytest.fixture(scope="module")
def client() -> Any:
    app = create_app(ServiceSettings(profiles=(PROFILE,), api_keys=(KEY,), **LIMITS))
    with TestClient(app, raise_server_exceptions=False) as c:
        for _ in range(900):
            if c.get("/readyz").status_code == 200:
                break
            time.sleep(0.2)
        yield c


def _headers(key: str | None) -> dict[str, str]:
    return {} if key is None else {"X-API-Key": key}


class ServiceUnderAbuse(RuleBasedStateMachine):
    """Random sequences of requests; the model counts what the service should have counted."""

    client: Any = None

    @initialize()
    def start(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter(self._scrape()[0])
        self.documents: Counter[tuple[str, str]] = Counter(self._scrape()[1])
        self.requests[("GET", "/metrics", "200")] += 2  # the two scrapes above
        self.last: Any = None

    def _scrape(self) -> tuple[dict[tuple[str, str, str], float], dict[tuple[str, str], float]]:
        text = self.client.get("/metrics").text
        requests, documents = {}, {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "screening_http_requests_total":
                    labels = sample.labels
                    requests[(labels["method"], labels["route"], labels["status"])] = sample.value
                elif sample.name == "screening_documents_total":
                    documents[(sample.labels["profile"], sample.labels["verdict"])] = sample.value
        return requests, documents

    def _record(self, method: str, path: str, response: Any, key: str | None) -> Any:
        route = path if path in ROUTES else "unmatched"
        self.requests[(method, route, str(response.status_code))] += 1
        assert response.status_code < 500, (path, response.status_code, response.text[:300])
        assert response.headers.get("x-content-type-options") == "nosniff"
        refused_unread = response.status_code in (408, 413) and "body" in response.json()["error"]["code"]
        if path.startswith("/v1/") and not refused_unread:  # an oversized body is refused before the key is read
            if key != KEY:
                assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
            else:
                assert response.status_code != 401
        if response.status_code >= 400 and route != "/":
            body = response.json()
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
        self.last = response
        return response

    def _count_results(self, results: list[dict[str, Any]]) -> None:
        for record in results:
            assert_contract(record, record.get("text"))
            self.documents[(PROFILE, "error" if record["error"] else record["verdict"])] += 1

    @rule(text=TEXTS, key=KEYS, include_text=st.booleans())
    def screen_json(self, text: str, key: str | None, include_text: bool) -> None:
        r = self._record("POST", "/v1/screen", self.client.post(
            "/v1/screen", json={"text": text, "profile": PROFILE, "include_text": include_text}, headers=_headers(key)),
            key)
        if r.status_code == 200:
            self._count_results([r.json()])

    @rule(items=st.lists(st.one_of(TEXTS.map(lambda t: {"text": t}), st.just({"text": 3}), st.just("x"),
                                   st.just({"id": "", "text": "a"}), st.just({"text": "a", "extra": 1})), max_size=6),
          key=KEYS)
    def screen_batch(self, items: list[Any], key: str | None) -> None:
        r = self._record("POST", "/v1/screen/batch", self.client.post(
            "/v1/screen/batch", json={"profile": PROFILE, "documents": items}, headers=_headers(key)), key)
        if r.status_code == 200:
            results = r.json()["results"]
            assert len(results) == len(items)
            self._count_results(results)

    @rule(name=UPLOAD_NAMES, data=UPLOAD_DATA, key=KEYS)
    def upload(self, name: str, data: bytes, key: str | None) -> None:
        r = self._record("POST", "/v1/screen", self.client.post(
            "/v1/screen", files={"file": (name, data)}, data={"profile": PROFILE}, headers=_headers(key)), key)
        if r.status_code == 200:
            record = r.json()
            assert "/" not in record["id"] and "\\" not in record["id"] and not record["id"].startswith("..")
            self._count_results([record])

    @rule(body=st.one_of(st.binary(max_size=200), st.sampled_from((b"{", b"[]", b"null", b'{"text": 1}',
                                                                    b"[" * 10_000, b"x" * 70_000))),
          content_type=st.sampled_from(("application/json", "text/plain", "multipart/form-data; boundary=x",
                                        "multipart/form-data", "", "application/x-www-form-urlencoded")),
          path=st.sampled_from(("/v1/screen", "/v1/screen/batch")), key=KEYS)
    def garbage(self, body: bytes, content_type: str, path: str, key: str | None) -> None:
        headers = {**_headers(key), **({"content-type": content_type} if content_type else {})}
        self._record("POST", path, self.client.post(path, content=body, headers=headers), key)

    @rule(path=st.sampled_from(("/v1/taxonomy", "/v1/taxonomy?profile=nope", "/healthz", "/readyz", "/nope",
                                "/v1/../metrics", "/static/../../etc/passwd")), key=KEYS)
    def get(self, path: str, key: str | None) -> None:
        r = self.client.get(path, headers=_headers(key))
        plain = r.request.url.path
        self._record("GET", plain, r, key)

    @invariant()
    def metrics_agree_with_what_was_asked(self) -> None:
        if self.last is None:
            return
        requests, documents = self._scrape()
        self.requests[("GET", "/metrics", "200")] += 1
        expected = {k: v for k, v in self.requests.items() if v}
        scraped_before = dict(expected)
        scraped_before[("GET", "/metrics", "200")] -= 1  # this scrape is counted once it has been answered
        assert {k: v for k, v in requests.items() if v} == {k: v for k, v in scraped_before.items() if v}
        assert {k: v for k, v in documents.items() if v} == {k: v for k, v in self.documents.items() if v}


def test_no_sequence_of_requests_breaks_the_service(client: Any) -> None:
    ServiceUnderAbuse.client = client
    runner = ServiceUnderAbuse.TestCase
    runner.settings = settings(max_examples=100, stateful_step_count=20, deadline=None, database=None,
                               derandomize=True, suppress_health_check=list(HealthCheck))
    runner().runTest()
