"""No document text in any log line or metric (issue 8, part 6).

Every document below carries a unique marker, in its text and in the parts a parser might quote when it
fails (a PDF's first bytes, a broken object, an XML tag name, rejected HTML markup, a bad JSON line). The
CLI runs with debug logging (``-vv``) and the service with every logger at DEBUG; the marker must appear
in no log line, warning, progress or summary line on standard error, and no metric. It does appear in
the results, which are the user's own output.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import pytest

from screening.taxonomy import PROFILES

from .conftest import FIXTURES, ROOT
from .docgen import make_docx, make_pdf

MARKER = "Qzxjmarker"  # in no taxonomy, no library message, no English text
SENTENCE = f"{MARKER} said the agent keeps the workers' passports and there is no rest day."
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8", "PYTHONWARNINGS": "default"}


def _docx_with(document_xml: bytes) -> bytes:
    """A DOCX whose word/document.xml is replaced by ``document_xml``."""
    base = zipfile.ZipFile(io.BytesIO(make_docx(["placeholder"])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in base.infolist():
            z.writestr(item, document_xml if item.filename == "word/document.xml" else base.read(item.filename))
    return out.getvalue()


def _pdf_with_broken_object() -> bytes:
    """A PDF with a correct xref whose second object is garbage pypdf quotes in its error."""
    body = [b"<< /Type /Catalog /Pages 2 0 R >>", f"{MARKER} {MARKER} >>".encode()]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(body, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(body) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets))
    out.write(f"trailer\n<< /Size {len(body) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def marked_documents() -> dict[str, bytes]:
    """Readable and unreadable documents of every format, each carrying the marker."""
    return {
        "plain.txt": SENTENCE.encode(),
        "notes.md": f"# {MARKER}\n\n- {SENTENCE}\n".encode(),
        "page.html": (f"<html><head><title>{MARKER}</title><script>var {MARKER} = 1;</script></head><body>"
                      f"<nav>{MARKER}</nav><!-- {MARKER} --><p data-x='{MARKER}'>{SENTENCE}</p></body></html>").encode(),
        "report.pdf": make_pdf([SENTENCE, MARKER]),
        "report.docx": make_docx([SENTENCE], [[MARKER, "open"]]),
        "rows.csv": f"id,text,extra\nr1,\"{SENTENCE}\",{MARKER}\nr2,,{MARKER}\nr3,\"{MARKER}\n".encode(),
        "rows.jsonl": (json.dumps({"id": "j1", "text": SENTENCE, "extra": MARKER}) + "\n"
                       + f'{{"text": "{MARKER}"\n' + f"{MARKER}\n" + "[" * 5_000 + MARKER + "\n").encode(),
        "latin1.txt": f"Caf\u00e9 {SENTENCE}".encode("cp1252"),
        # Unreadable: parsers that quote what they failed on.
        "first-bytes.pdf": f"%PDF-1.4\n{MARKER} {MARKER}\n".encode(),
        "broken-object.pdf": _pdf_with_broken_object(),
        "bad-tag.docx": _docx_with(f"<{MARKER}></other>".encode()),
        "bad-xml.docx": _docx_with(f"<w:document>&{MARKER};</w:document>".encode()),
        "not-a-zip.docx": f"PK\x03\x04{MARKER}".encode(),
        "rejected.html": f"<p>{SENTENCE}</p><![ {MARKER} ]>".encode(),
        "binary.txt": b"\x00\x01" + MARKER.encode() + bytes(range(256)),
        "empty.txt": b"",
    }


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("marked")
    for name, data in marked_documents().items():
        (folder / name).write_bytes(data)
    return folder


def run_cli(*args: str, stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "screening.cli", "-vv", *args], input=stdin, capture_output=True,
                          env=ENV, cwd=ROOT, timeout=timeout)


def assert_no_marker(where: str, text: str) -> None:
    lowered = text.lower()
    assert MARKER.lower() not in lowered and MARKER[:6].lower() not in lowered, f"document text in {where}:\n{text}"


def test_cli_debug_logs_carry_no_document_text(marked: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done = run_cli("scan", str(marked), "--taxonomy", str(FIXTURES / "mini_taxonomy.yaml"), "--replace-taxonomy",
                   "--rules-only", "-j", "1", "--include-text", "-o", str(out))
    stderr = done.stderr.decode("utf-8", errors="replace")
    assert done.returncode == 3, stderr[-3000:]  # the unreadable documents are error records
    assert "DEBUG" in stderr or "INFO" in stderr or "documents" in stderr  # something was logged
    assert_no_marker("the CLI's standard error", stderr)
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(results) >= len(marked_documents())
    assert MARKER in out.read_text(encoding="utf-8")  # the results themselves do hold the text
    for record in results:
        if record["error"] is not None:
            assert_no_marker(f"the error message of {record['id']}", record["error"]["message"])


@pytest.mark.parametrize("profile", PROFILES)
def test_cli_debug_logs_with_the_shipped_models_carry_no_document_text(marked: Path, profile: str) -> None:
    done = run_cli("scan", str(marked / "plain.txt"), str(marked / "report.docx"), str(marked / "rows.csv"),
                   "--profile", profile, "-j", "1", "--format", "table")
    stderr = done.stderr.decode("utf-8", errors="replace")
    assert done.returncode in (0, 1, 3), stderr[-3000:]
    assert_no_marker("the CLI's standard error", stderr)


@pytest.mark.parametrize(("fmt", "name"), [("html", "rejected.html"), ("pdf", "broken-object.pdf"),
                                           ("jsonl", "rows.jsonl"), ("txt", "plain.txt")])
def test_cli_reading_stdin_logs_no_document_text(fmt: str, name: str) -> None:
    done = run_cli("scan", "-", "--input-format", fmt, "--taxonomy", str(FIXTURES / "mini_taxonomy.yaml"),
                   "--replace-taxonomy", "--rules-only", "-j", "1", stdin=marked_documents()[name])
    assert_no_marker("the CLI's standard error", done.stderr.decode("utf-8", errors="replace"))


def test_service_debug_logs_and_metrics_carry_no_document_text(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("fastapi")
    service_main = pytest.importorskip("service.main")
    from fastapi.testclient import TestClient

    from service.settings import ServiceSettings

    profile = PROFILES[0]
    docs = marked_documents()
    caplog.set_level(logging.DEBUG)  # every logger, the libraries' included
    with warnings.catch_warnings(record=True) as caught, TestClient(
            service_main.create_app(ServiceSettings(profiles=(profile,)))) as client:
        warnings.simplefilter("always")
        for _ in range(600):
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.2)
        answers = [client.post("/v1/screen", json={"text": SENTENCE, "profile": profile, "id": "json"})]
        answers.append(client.post("/v1/screen", json={"text": MARKER * 50_000, "profile": profile}))  # too long
        answers.append(client.post("/v1/screen", json={"text": SENTENCE, "profile": MARKER}))
        answers.append(client.post("/v1/screen", content=f'{{"text": "{MARKER}'.encode(),
                                   headers={"content-type": "application/json"}))
        answers.append(client.post("/v1/screen/batch", json={"profile": profile, "documents": [
            {"text": SENTENCE}, {"text": 5}, {"text": "  "}, {"id": MARKER, "text": SENTENCE}, MARKER]}))
        for name, data in docs.items():
            if name.endswith((".csv", ".jsonl")):
                continue  # tables go through the CLI
            answers.append(client.post("/v1/screen", files={"file": (name, data)}, data={"profile": profile}))
        metrics = client.get("/metrics").text
    assert all(a.status_code < 500 for a in answers), [(a.status_code, a.text[:200]) for a in answers]
    assert any(MARKER in a.text for a in answers)  # the answers hold the text; the logs must not
    assert_no_marker("the service's logs", "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records))
    assert_no_marker("the service's logs", caplog.text)
    assert_no_marker("the warnings", "\n".join(str(w.message) for w in caught))
    assert_no_marker("the metrics", metrics)
