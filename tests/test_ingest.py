from __future__ import annotations

import json
from pathlib import Path

import pytest

from screening import Engine
from screening.ingest import TableOptions, html_to_text, read_inputs

from .docgen import make_docx, make_pdf
from .helpers import assert_offsets

FINDING = "The agent keeps the passports of all migrant workers."


def _read(paths, **kw):
    return list(read_inputs([str(p) for p in paths], TableOptions(**kw)))


def _screen_one(engine: Engine, path: Path, **kw):
    (doc,) = _read([path], **kw)
    assert doc.error is None, doc.error
    result = engine.screen_document(doc, include_text=True)
    assert_offsets(result.text or "", result.evidence)
    return doc, result


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("a.txt", FINDING.encode()),
        ("a.md", f"# Findings\n\n- {FINDING}\n".encode()),
        ("a.html", f"<html><body><nav>menu</nav><p>Intro.</p><p>{FINDING}</p><script>x()</script></body></html>".encode()),
        ("a.pdf", make_pdf(["Audit report", FINDING])),
        ("a.docx", make_docx(["Audit report", FINDING], [["Finding", "Open"]])),
    ],
)
def test_each_document_format_round_trips_with_exact_offsets(mini_engine, tmp_path, name, content) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    doc, result = _screen_one(mini_engine, path)
    assert "keeps the passports" in doc.text
    assert [e.text for e in result.evidence] == ["keeps the passports"]


def test_html_drops_scripts_styles_navigation_and_keeps_blocks() -> None:
    text = html_to_text("<head><style>p{}</style></head><nav>Home</nav><p>One</p><div>Two<br>Three</div>"
                        "<script>var a</script><footer>foot</footer>")
    assert text.split("\n") == ["One", "", "Two", "Three"] or text.split() == ["One", "Two", "Three"]
    assert "Home" not in text and "var a" not in text and "foot" not in text


def test_csv_rows_join_text_fields_and_use_id_field(mini_engine, tmp_path) -> None:
    path = tmp_path / "ads.csv"
    path.write_text('ref,title,body\nA1,Job,"The agent keeps the passports."\nA2,Other,\n', encoding="utf-8")
    docs = _read([path], text_fields=["title", "body"], id_field="ref")
    assert [d.id for d in docs] == ["A1", "A2"]
    assert docs[0].text == "Job\n\nThe agent keeps the passports."
    assert docs[1].error is None and docs[1].text == "Other"
    result = mini_engine.screen_document(docs[0], include_text=True)
    assert_offsets(result.text or "", result.evidence)


def test_csv_without_text_column_says_which_flag_to_use(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    (doc,) = _read([path])
    assert doc.error is not None and "--text-field" in doc.error.message


def test_jsonl_bad_line_is_an_error_record_and_the_rest_continue(tmp_path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"id": "1", "text": FINDING}) + "\n{broken\n" + json.dumps({"id": "3", "text": "ok"}) + "\n")
    docs = _read([path])
    assert [d.id for d in docs] == ["1", "x:2", "3"]
    assert docs[1].error is not None and docs[1].error.code == "malformed_row"
    assert docs[0].error is None and docs[2].error is None


def test_folder_is_read_recursively_in_sorted_order(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("two")
    (tmp_path / "a.txt").write_text("one")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    docs = _read([tmp_path])
    assert [d.id for d in docs] == ["a.txt", "b/z.txt"]


def test_symlink_out_of_folder_is_not_followed(tmp_path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    folder = tmp_path / "scan"
    folder.mkdir()
    (folder / "link.txt").symlink_to(outside)
    (doc,) = _read([folder])
    assert doc.error is not None and doc.error.code == "symlink"


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("corrupt.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "unreadable_pdf"),
        ("corrupt.docx", b"PK\x03\x04 not really a zip", "unreadable_docx"),
        ("empty.txt", b"", "empty_document"),
        ("blank.txt", b"   \n\t\n", "empty_document"),
        ("binary.txt", bytes(range(256)) * 4, "binary"),
        ("data.xyz", b"hello", "unsupported_format"),
    ],
)
def test_bad_files_give_error_records(tmp_path, name, content, code) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    (doc,) = _read([path])
    assert doc.error is not None and doc.error.code == code


def test_invalid_utf8_is_decoded_with_a_detected_encoding(mini_engine, tmp_path) -> None:
    text = "Café workers said the agent keeps the passports – señor Ruiz confirmed it."
    path = tmp_path / "latin.txt"
    path.write_bytes(text.encode("cp1252"))
    doc, result = _screen_one(mini_engine, path)
    assert "keeps the passports" in doc.text
    assert [e.text for e in result.evidence] == ["keeps the passports"]


def test_ten_megabyte_text_file_is_screened_with_offsets(mini_engine, tmp_path) -> None:
    line = "Inspection of the warehouse racking and forklift licences was satisfactory today.\n"
    body = line * (10 * 1024 * 1024 // len(line))
    path = tmp_path / "big.txt"
    path.write_text(body[: len(body) // 2] + FINDING + "\n" + body[len(body) // 2 :])
    assert path.stat().st_size > 10 * 1024 * 1024
    doc, result = _screen_one(mini_engine, path)
    assert [e.text for e in result.evidence] == ["keeps the passports"]


def test_file_over_the_size_limit_is_refused(tmp_path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 2000)
    (doc,) = list(read_inputs([str(path)], TableOptions(), max_bytes=1000))
    assert doc.error is not None and doc.error.code == "too_large"


def test_missing_path_is_an_error_record() -> None:
    (doc,) = _read([Path("/nonexistent/file.txt")])
    assert doc.error is not None and doc.error.code == "not_found"
