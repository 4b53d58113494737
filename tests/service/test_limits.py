"""Every limit and malformed input answers a 4xx with the error shape and a stable code; never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import ServiceSettings, SettingsError

from ..docgen import make_docx
from .conftest import AD, PROFILE, SERVED


def assert_error(r, status: int, code: str, mentions: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code, body
    if mentions is not None:
        assert mentions in body["error"]["message"], body
    return body


def test_body_over_the_limit_is_413_from_content_length(client: TestClient, settings) -> None:
    big = "a" * (settings.max_body_bytes + 1)
    assert_error(client.post("/v1/screen", json={"text": big, "profile": PROFILE}), 413, "body_too_large")


def test_streamed_body_over_the_limit_is_413_without_content_length(client: TestClient, settings) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"profile": "' + PROFILE.encode() + b'", "text": "'
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"a" * 1024
        yield b'"}'

    r = client.post("/v1/screen", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "body_too_large")


def test_upload_over_the_body_limit_is_413(client: TestClient, settings) -> None:
    r = client.post("/v1/screen", files={"file": ("big.txt", b"a " * settings.max_body_bytes)},
                    data={"profile": PROFILE})
    assert_error(r, 413, "body_too_large")


def test_text_over_the_limit_is_413(client: TestClient, settings) -> None:
    text = "word " * (settings.max_text_chars // 5 + 1)
    assert_error(client.post("/v1/screen", json={"text": text, "profile": PROFILE}), 413, "text_too_long",
                 str(settings.max_text_chars))


def test_uploaded_text_over_the_limit_is_413(client: TestClient, settings) -> None:
    data = ("word " * (settings.max_text_chars // 5 + 1)).encode()
    r = client.post("/v1/screen", files={"file": ("long.txt", data)}, data={"profile": PROFILE})
    assert_error(r, 413, "text_too_long")


def test_batch_over_the_size_limit_is_413(client: TestClient, settings) -> None:
    docs = [{"text": "short"}] * (settings.max_batch_size + 1)
    assert_error(client.post("/v1/screen/batch", json={"profile": PROFILE, "documents": docs}), 413,
                 "batch_too_large", str(settings.max_batch_size))


@pytest.mark.parametrize("path", ["/v1/screen", "/v1/screen/batch"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None])
def test_unsupported_media_type_is_415(client: TestClient, path: str, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    assert_error(client.post(path, content=b"text=hello", headers=headers), 415, "unsupported_media_type")


def test_multipart_on_batch_is_415(client: TestClient) -> None:
    r = client.post("/v1/screen/batch", files={"file": ("a.txt", b"x")}, data={"profile": PROFILE})
    assert_error(r, 415, "unsupported_media_type")


@pytest.mark.parametrize("name", ["data.exe", "table.csv", "rows.jsonl", "noextension"])
def test_unsupported_upload_format_is_415(client: TestClient, name: str) -> None:
    r = client.post("/v1/screen", files={"file": (name, b"id,text\n1,hello\n", "application/octet-stream")},
                    data={"profile": PROFILE})
    assert_error(r, 415, "unsupported_format")


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage", b"[" * 100_000 + b"]" * 100_000,
                                  b'{"text": "a", "profile": "' + b"x" * 10 + b'"'])
def test_malformed_json_is_422(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/screen", content=body, headers={"content-type": "application/json"})
    # The deeply nested array is over the 64 KiB test body limit only if it is long; either way a 4xx with a code.
    if len(body) > 64 * 1024:
        assert_error(r, 413, "body_too_large")
    else:
        assert_error(r, 422, "malformed_json")


def test_deeply_nested_json_within_the_body_limit_is_422(client: TestClient) -> None:
    body = b"[" * 20_000 + b"]" * 20_000
    r = client.post("/v1/screen", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(("payload", "field"), [
    ({"profile": PROFILE}, "text"),
    ({"text": AD}, "profile"),
    ({"text": AD, "profile": "nonsense"}, "profile"),
    ({"text": 42, "profile": PROFILE}, "text"),
    ({"text": AD, "profile": PROFILE, "include_text": "yes"}, "include_text"),
    ({"text": AD, "profile": PROFILE, "id": ""}, "id"),
    ({"text": AD, "profile": PROFILE, "id": 7}, "id"),
    ({"text": AD, "profile": PROFILE, "colour": "red"}, "colour"),
    ({"text": "", "profile": PROFILE}, "text"),
    ({"text": "bad \ud800 surrogate", "profile": PROFILE}, "text"),
    (["not", "an", "object"], "body"),
])
def test_wrong_fields_are_422_naming_the_field(client: TestClient, payload, field: str) -> None:
    body = json.dumps(payload).encode()
    r = client.post("/v1/screen", content=body, headers={"content-type": "application/json"})
    assert_error(r, 422, "invalid_field", field)


@pytest.mark.parametrize(("payload", "field"), [
    ({"documents": [{"text": "a"}]}, "profile"),
    ({"profile": PROFILE}, "documents"),
    ({"profile": PROFILE, "documents": []}, "documents"),
    ({"profile": PROFILE, "documents": {"text": "a"}}, "documents"),
    ({"profile": PROFILE, "documents": [{"text": "a"}], "extra": 1}, "extra"),
])
def test_wrong_batch_fields_are_422_naming_the_field(client: TestClient, payload, field: str) -> None:
    assert_error(client.post("/v1/screen/batch", json=payload), 422, "invalid_field", field)


def test_whitespace_text_is_422_empty_document(client: TestClient) -> None:
    assert_error(client.post("/v1/screen", json={"text": " \n\t ", "profile": PROFILE}), 422, "empty_document")


@pytest.mark.parametrize(("name", "data", "code"), [
    ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "unreadable_pdf"),
    ("broken.docx", b"PK\x03\x04 not a real zip", "unreadable_docx"),
    ("empty.txt", b"   \n ", "empty_document"),
    ("empty.docx", make_docx([]), "empty_document"),
    ("binary.txt", b"\x00\x01\x02binary", "binary"),
])
def test_unreadable_uploads_are_422_with_the_ingest_code(client: TestClient, name: str, data: bytes,
                                                         code: str) -> None:
    assert_error(client.post("/v1/screen", files={"file": (name, data)}, data={"profile": PROFILE}), 422, code)


@pytest.mark.parametrize(("files", "data", "field"), [
    (None, {"profile": PROFILE}, "file"),
    ({"file": ("a.txt", AD.encode())}, {}, "profile"),
    ({"file": ("a.txt", AD.encode())}, {"profile": "nonsense"}, "profile"),
    ({"file": ("a.txt", AD.encode())}, {"profile": PROFILE, "include_text": "perhaps"}, "include_text"),
    ({"file": ("a.txt", AD.encode())}, {"profile": PROFILE, "colour": "red"}, "colour"),
    ({"other": ("a.txt", AD.encode())}, {"profile": PROFILE}, "file"),
])
def test_wrong_upload_fields_are_422_naming_the_field(client: TestClient, files, data, field: str) -> None:
    if files is None:
        r = client.post("/v1/screen", files={"x": ("", b"")}, data=data)  # multipart without a 'file' part
    else:
        r = client.post("/v1/screen", files=files, data=data)
    assert_error(r, 422, "invalid_field", field)


def test_two_files_are_refused(client: TestClient) -> None:
    files = [("file", ("a.txt", AD.encode())), ("file", ("b.txt", AD.encode()))]
    r = client.post("/v1/screen", files=files, data={"profile": PROFILE})
    assert r.status_code == 422 and r.json()["error"]["code"] in ("malformed_multipart", "invalid_field")


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=xyz"])
def test_malformed_multipart_is_422(client: TestClient, content_type: str) -> None:
    r = client.post("/v1/screen", content=b"--abc\r\ngarbage without headers\r\n", headers={"content-type": content_type})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("malformed_multipart", "invalid_field")


def test_unknown_path_and_wrong_method_use_the_error_shape(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing"), 404, "not_found")
    r = client.get("/v1/screen")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"


def test_taxonomy_with_an_unknown_profile_is_422_naming_it(client: TestClient) -> None:
    assert_error(client.get("/v1/taxonomy", params={"profile": "nonsense"}), 422, "invalid_field", "profile")


def test_a_profile_that_is_not_served_is_422() -> None:
    served = (SERVED[0],)
    other = next(p for p in ("supplier", "recruitment") if p not in served)
    app = create_app(ServiceSettings(profiles=served))
    c = TestClient(app)  # the check comes before any engine is needed
    assert_error(c.post("/v1/screen", json={"text": AD, "profile": other}), 422, "profile_not_served", other)
    assert_error(c.post("/v1/screen", files={"file": ("a.txt", b"x")}, data={"profile": other}), 422,
                 "profile_not_served", other)


def test_settings_from_env_read_limits_keys_and_origins() -> None:
    s = ServiceSettings.from_env({"SCREENING_MAX_BODY_BYTES": "100", "SCREENING_MAX_TEXT_CHARS": "50",
                                  "SCREENING_MAX_BATCH_SIZE": "3", "SCREENING_API_KEYS": " k1, k2 ,,",
                                  "SCREENING_CORS_ORIGINS": "https://a.example", "SCREENING_PROFILES": "recruitment"})
    assert (s.max_body_bytes, s.max_text_chars, s.max_batch_size) == (100, 50, 3)
    assert s.api_keys == ("k1", "k2") and s.cors_origins == ("https://a.example",) and s.profiles == ("recruitment",)
    assert "k1" not in repr(s)
    defaults = ServiceSettings.from_env({})
    assert defaults.api_keys == () and defaults.cors_origins == () and defaults.profiles == ("supplier", "recruitment")


@pytest.mark.parametrize("env", [{"SCREENING_MAX_BODY_BYTES": "lots"}, {"SCREENING_MAX_BATCH_SIZE": "0"},
                                 {"SCREENING_PROFILES": "payroll"}])
def test_bad_settings_are_refused_with_the_variable_named(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as info:
        ServiceSettings.from_env(env)
    assert info.value.code == "invalid_setting"
