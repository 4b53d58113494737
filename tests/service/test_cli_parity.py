"""The same input gives the same JSON from `screening scan` and from POST /v1/screen."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ..conftest import ROOT
from ..docgen import make_pdf
from ..helpers import assert_contract
from .conftest import AD, SAMPLE, SERVED

SCREENING = ROOT / ".venv" / "bin" / "screening"


def scan(path: Path, profile: str, *extra: str) -> dict:
    cmd = [str(SCREENING), "scan", str(path), "--profile", profile, "--quiet", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=path.parent)
    assert done.returncode in (0, 3), done.stderr
    (line,) = done.stdout.splitlines()
    return json.loads(line)


@pytest.fixture(scope="module", autouse=True)
def _cli_installed() -> None:
    assert SCREENING.exists(), f"{SCREENING} missing: install the project into .venv (make install)"


@pytest.mark.slow
@pytest.mark.parametrize("profile", SERVED)
def test_cli_and_api_give_the_same_record_for_the_same_text(client: TestClient, tmp_path: Path, profile: str) -> None:
    path = tmp_path / "doc.txt"
    path.write_text(SAMPLE[profile].replace("\n", "\r\n"), encoding="utf-8")  # CRLF is unified by both
    cli = scan(path, profile)
    text = path.read_bytes().decode("utf-8")
    assert "\r\n" in text
    api = client.post("/v1/screen", json={"text": text, "profile": profile, "id": str(path)}).json()
    assert_contract(api)
    assert cli == api


@pytest.mark.slow
def test_cli_and_api_give_the_same_record_for_an_uploaded_file_with_text(client: TestClient, tmp_path: Path) -> None:
    profile = SERVED[-1]
    path = tmp_path / "ad.pdf"
    path.write_bytes(make_pdf(AD.splitlines()))
    cli = scan(path, profile, "--include-text")
    api = client.post("/v1/screen", files={"file": (path.name, path.read_bytes())},
                      data={"profile": profile, "id": str(path), "include_text": "true"}).json()
    assert "text" in api and cli == api


@pytest.mark.slow
def test_cli_and_api_agree_on_an_unreadable_document(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 broken")
    cli = scan(path, SERVED[0])
    api = client.post("/v1/screen", files={"file": (path.name, path.read_bytes())}, data={"profile": SERVED[0]})
    assert api.status_code == 422
    assert cli["error"]["code"] == api.json()["error"]["code"] == "unreadable_pdf"
