"""The API through TestClient against the real engines: contract, uploads, batch, taxonomy, operations."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from screening.models.loading import default_engine
from service.schemas import ScreenResult

from ..docgen import make_docx, make_pdf
from ..helpers import assert_contract, assert_offsets
from .conftest import AD, PROFILE, SAMPLE, SERVED


@pytest.mark.parametrize("profile", SERVED)
def test_screen_json_returns_the_contract_record_with_honest_offsets(client: TestClient, profile: str) -> None:
    text = SAMPLE[profile]
    r = client.post("/v1/screen", json={"text": text, "profile": profile, "id": "doc-1", "include_text": True})
    assert r.status_code == 200, r.text
    record = r.json()
    assert_contract(record, record["text"])
    assert record["id"] == "doc-1" and record["profile"] == profile and record["text"] == text
    assert any(e["assertion"] == "asserted" for e in record["evidence"])  # the samples hold indicator wording
    ScreenResult.model_validate(record)  # the documented response schema fits the answer


def test_screen_gives_exactly_what_the_engine_gives(client: TestClient) -> None:
    engine = default_engine(PROFILE)
    expected = engine.screen(AD, "ad-7").to_dict()
    r = client.post("/v1/screen", json={"text": AD, "profile": PROFILE, "id": "ad-7"})
    assert r.json() == expected
    assert "text" not in r.json()  # only when asked for


def test_recruitment_ad_points_at_fee_and_passport_and_marks_the_negated_fee(client: TestClient) -> None:
    if "recruitment" not in SERVED:
        pytest.skip("recruitment taxonomy not shipped")
    record = client.post("/v1/screen", json={"text": AD, "profile": "recruitment"}).json()
    assert record["verdict"] in ("review", "high")
    asserted = {e["indicator"] for e in record["evidence"] if e["assertion"] == "asserted"}
    assert {"RC01", "RC02"} <= asserted
    assert any(e["assertion"] == "negated" for e in record["evidence"])
    assert_offsets(AD, record["evidence"])


def test_json_text_line_endings_are_unified_like_the_cli_does(client: TestClient) -> None:
    crlf = AD.replace("\n", "\r\n")
    record = client.post("/v1/screen", json={"text": crlf, "profile": PROFILE, "include_text": True}).json()
    assert record["text"] == AD
    assert_offsets(record["text"], record["evidence"])


@pytest.mark.parametrize(("name", "data"), [
    ("ad.txt", AD.encode()),
    ("ad.md", AD.encode()),
    ("ad.html", f"<html><body><script>x()</script><p>{AD}</p></body></html>".encode()),
    ("ad.pdf", make_pdf(AD.splitlines())),
    ("ad.docx", make_docx(AD.splitlines())),
])
def test_upload_of_each_readable_format_is_screened(client: TestClient, name: str, data: bytes) -> None:
    r = client.post("/v1/screen", files={"file": (name, data)}, data={"profile": PROFILE, "include_text": "true"})
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["id"] == name
    assert_contract(record, record["text"])
    assert "x()" not in record["text"]
    if PROFILE == "recruitment":
        assert "RC02" in {e["indicator"] for e in record["evidence"]}


def test_upload_id_field_and_content_type_fallback(client: TestClient) -> None:
    r = client.post("/v1/screen", files={"file": ("blob", AD.encode(), "text/plain")},
                    data={"profile": PROFILE, "id": "ticket-9"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "ticket-9"


def test_upload_path_in_filename_keeps_only_the_name(client: TestClient) -> None:
    r = client.post("/v1/screen", files={"file": ("C:\\Users\\me\\ad.txt", AD.encode())}, data={"profile": PROFILE})
    assert r.json()["id"] == "ad.txt"


def test_batch_keeps_order_and_reports_failing_items_in_place(client: TestClient) -> None:
    docs = [
        {"id": "a", "text": AD},
        {"text": "   "},
        {"id": "c", "txt": "wrong field"},
        "not an object",
        {"id": "e", "text": "Office assistant, permanent contract."},
    ]
    r = client.post("/v1/screen/batch", json={"profile": PROFILE, "documents": docs, "include_text": True})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["id"] for x in results] == ["a", "2", "c", "4", "e"]
    assert results[0]["error"] is None and results[4]["error"] is None
    assert results[1]["error"]["code"] == "empty_document"
    assert results[2]["error"]["code"] == "invalid_field" and "txt" in results[2]["error"]["message"]
    assert results[3]["error"]["code"] == "invalid_field"
    for x in results:
        assert_contract(x, x.get("text"))
        ScreenResult.model_validate(x)
    assert results[0]["text"] == AD


def test_batch_item_over_the_text_limit_is_an_item_error(client: TestClient, settings) -> None:
    docs = [{"text": "a " * settings.max_text_chars}, {"text": AD}]
    # The body limit is larger than one over-long item in this configuration.
    assert len(docs[0]["text"]) + 200 < settings.max_body_bytes
    results = client.post("/v1/screen/batch", json={"profile": PROFILE, "documents": docs}).json()["results"]
    assert results[0]["error"]["code"] == "text_too_long" and results[1]["error"] is None


@pytest.mark.parametrize("profile", SERVED)
def test_taxonomy_lists_indicators_names_descriptions_sources_and_version(client: TestClient, profile: str) -> None:
    r = client.get("/v1/taxonomy", params={"profile": profile})
    assert r.status_code == 200
    (tax,) = r.json()["taxonomies"]
    assert tax["profile"] == profile and tax["version"] and tax["engine"]["taxonomy_version"] == tax["version"]
    for ind in tax["indicators"]:
        assert ind["id"] and ind["name"] and ind["description"] and ind["sources"]
        assert all(s["title"] and s["reference"] for s in ind["sources"])


def test_taxonomy_without_profile_lists_every_served_profile(client: TestClient) -> None:
    assert [t["profile"] for t in client.get("/v1/taxonomy").json()["taxonomies"]] == list(SERVED)


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and set(ready["profiles"]) == set(SERVED)
    assert all(p["state"] == "ready" for p in ready["profiles"].values())


def test_metrics_count_requests_latency_and_verdicts_and_never_carry_text(client: TestClient) -> None:
    secret = "Zyxwvut unique sentence that must never reach the metrics."
    verdict = client.post("/v1/screen", json={"text": secret, "profile": PROFILE, "id": "secret-id-123"}).json()["verdict"]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    assert 'screening_http_requests_total{method="POST",route="/v1/screen",status="200"}' in body
    assert "screening_http_request_duration_seconds_bucket" in body
    assert f'screening_documents_total{{profile="{PROFILE}",verdict="{verdict}"}}' in body
    assert "screening_ready 1.0" in body
    assert "Zyxwvut" not in body and "secret-id-123" not in body


def test_metrics_labels_unknown_paths_as_unmatched(client: TestClient) -> None:
    client.get("/no/such/path/with-words-in-it")
    body = client.get("/metrics").text
    assert "with-words-in-it" not in body and 'route="unmatched"' in body


def test_security_headers_on_page_api_and_errors(client: TestClient) -> None:
    for r in (client.get("/"), client.get("/static/app.js"), client.post("/v1/screen", json={}),
              client.get("/missing")):
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert client.post("/v1/screen", json={}).headers["cache-control"] == "no-store"


def test_page_has_no_inline_script_or_style_and_no_cdn(client: TestClient) -> None:
    html = client.get("/").text
    assert '<script src="/static/app.js"' in html and '<link rel="stylesheet" href="/static/app.css">' in html
    assert "<script>" not in html and "<style" not in html and " style=" not in html and "onclick" not in html
    for asset in ("/", "/static/app.js", "/static/app.css"):
        assert "http://" not in client.get(asset).text and "https://" not in client.get(asset).text
    assert "indicators present" in html.lower()


def test_cors_is_off_unless_origins_are_configured(client: TestClient) -> None:
    r = client.options("/v1/screen", headers={"Origin": "https://elsewhere.example",
                                              "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers
    r = client.post("/v1/screen", json={"text": AD, "profile": PROFILE}, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_configured_origins(settings) -> None:
    from dataclasses import replace

    from service.main import create_app

    app = create_app(replace(settings, cors_origins=("https://ngo.example",)))
    c = TestClient(app)  # no lifespan needed for a preflight
    ok = c.options("/v1/screen", headers={"Origin": "https://ngo.example", "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "X-API-Key"})
    assert ok.headers["access-control-allow-origin"] == "https://ngo.example"
    assert "x-api-key" in ok.headers["access-control-allow-headers"].lower()
    other = c.options("/v1/screen", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_openapi_documents_both_bodies_examples_limits_and_errors(client: TestClient, settings) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/v1/screen"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"200", "413", "415", "422", "503"} <= set(post["responses"])
    comps = schema["components"]["schemas"]
    assert comps["ScreenRequest"]["examples"] and comps["ScreenResult"]["examples"]
    assert comps["ScreenRequest"]["properties"]["text"]["maxLength"] == settings.max_text_chars
    assert comps["BatchRequest"]["properties"]["documents"]["maxItems"] == settings.max_batch_size
    assert comps["ScreenRequest"]["properties"]["profile"]["enum"] == list(SERVED)
    assert "securitySchemes" not in schema["components"] and "security" not in post  # no keys configured
    assert "/docs" not in schema["paths"]


def test_head_on_the_page(client: TestClient) -> None:
    assert client.head("/").status_code == 200


def test_the_schema_profiles_are_the_engine_profiles() -> None:
    from typing import get_args

    from screening.taxonomy import PROFILES
    from service.schemas import Profile

    assert set(get_args(Profile)) == set(PROFILES)
