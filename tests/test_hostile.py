"""Hostile files and hostile artefacts (issue 8, parts 2 and 5): each has a documented outcome.

Every hostile file is read in its own process with a wall-clock limit, and the process reports how long
the read took and how much its memory grew, so a hang or an unbounded allocation fails the test instead
of the machine. One ``screening scan`` run over all of them together checks that the rest of the batch
is unaffected.

| file | outcome (error code) | bound checked here |
| --- | --- | --- |
| DOCX zip bomb (document.xml inflates to ~300 MB) | ``too_large``, refused before inflating | < 20 s, < 150 MB |
| PDF with 100,000 pages (shared page-tree nodes, 1 KB) | ``too_large`` (pypdf's page-tree limit) | < 20 s, < 250 MB |
| PDF with 10,000 pages | ``too_large`` (setting ``max_pdf_pages``) | < 20 s, < 250 MB |
| PDF whose page tree contains itself | ``unreadable_pdf`` | < 20 s, < 150 MB |
| PDF whose content stream inflates to ~200 MB | ``too_large`` (pypdf's stream limit) | < 20 s, < 250 MB |
| HTML with 2,000,000 nested tags | ``too_large`` (setting ``max_html_tags``) | < 20 s, < 150 MB |
| HTML with 100,000 nested tags | read; the text inside is found | < 30 s, < 250 MB |
| CSV with a 100 MB field | that row ``too_large``; the rows around it read | < 30 s, < 250 MB |
| JSONL with a 100 MB line | that line ``too_large``; the lines around it read | < 30 s, < 250 MB |
| symlink out of the scanned folder | ``symlink`` (not followed unless ``--follow-symlinks``) | |
| file names with control characters | read; ids kept in JSON, escaped on the terminal | |
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import joblib
import pytest

from screening.engine import Engine
from screening.errors import ModelError, ScreeningError, TaxonomyError
from screening.ingest import Document
from screening.models import artefacts
from screening.models.artefacts import MANIFEST, MODEL_FILE, library_versions, load_artefact, verify_artefact
from screening.settings import Settings
from screening.taxonomy import PROFILES, load_taxonomy, load_taxonomy_file, shipped_taxonomy_path

from .conftest import FIXTURES, ROOT
from .docgen import make_docx, make_pdf
from .helpers import assert_contract

FINDING = "The agent keeps the workers' passports."
MINI = FIXTURES / "mini_taxonomy.yaml"
MB = 1024 * 1024
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}

# --- builders of hostile files ------------------------------------------------------------------


def docx_bomb(inflated_mb: int = 300) -> bytes:
    """A valid DOCX whose word/document.xml inflates to ``inflated_mb`` MB (about 1 MB on disk)."""
    base = zipfile.ZipFile(io.BytesIO(make_docx([FINDING])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in base.infolist():
            data = base.read(item.filename)
            if item.filename != "word/document.xml":
                z.writestr(item, data)
                continue
            head, body, tail = data.decode().partition("<w:body>")
            para = ("<w:p><w:r><w:t>" + "a" * 40 + "</w:t></w:r></w:p>") * 10_000
            info = zipfile.ZipInfo("word/document.xml")
            info.compress_type = zipfile.ZIP_DEFLATED
            with z.open(info, "w", force_zip64=True) as f:
                f.write((head + body).encode())
                for _ in range(inflated_mb * MB // len(para)):
                    f.write(para.encode())
                f.write(tail.encode())
    return out.getvalue()


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF with these numbered objects (1 is the catalog) and a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_many_pages(fanout: int, depth: int) -> bytes:
    """``fanout ** depth`` pages in about a kilobyte: every level of the page tree repeats one child."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        n = 2 + level
        kids = " ".join(f"{n + 1} 0 R" for _ in range(fanout))
        parent = f"/Parent {n - 1} 0 R " if level else ""
        objects.append(f"<< /Type /Pages {parent}/Kids [{kids}] /Count {fanout ** (depth - level)} >>".encode())
    page = 2 + depth
    stream = b"BT /F1 11 Tf 72 760 Td (Hello) Tj ET"
    objects.append(f"<< /Type /Page /Parent {page - 1} 0 R /MediaBox [0 0 612 792] "
                   f"/Resources << /Font << /F1 {page + 2} 0 R >> >> /Contents {page + 1} 0 R >>".encode())
    objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    objects.append(FONT)
    return pdf_from_objects(objects)


def pdf_recursive() -> bytes:
    """A page tree that holds itself, and resources and a stream length that refer to themselves."""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources 5 0 R >>",
        b"<< /Length 4 0 R >>\nstream\nBT ET\nendstream",
        b"<< /Font << /F1 5 0 R >> /XObject << /X 5 0 R >> /Self 5 0 R >>",
    ])


def pdf_stream_bomb(inflated_mb: int = 200) -> bytes:
    """One page whose FlateDecode content stream inflates to ``inflated_mb`` MB of spaces."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(b"BT /F1 11 Tf 72 760 Td (Hello) Tj ET\n")]
    block = b" " * MB
    parts += [packer.compress(block) for _ in range(inflated_mb)]
    parts.append(packer.flush())
    packed = b"".join(parts)
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        b"<< /Length " + str(len(packed)).encode() + b" /Filter /FlateDecode >>\nstream\n" + packed + b"\nendstream",
        FONT,
    ])


def nested_html(depth: int) -> bytes:
    """``depth`` nested tags around the finding (5 bytes a tag: 2,000,000 tags are 20 MB)."""
    return b"<div>" * depth + FINDING.encode() + b"</div>" * depth


def write_big_table(path: Path, field_mb: int = 100) -> None:
    """A CSV or JSONL file with three rows (ids ``<suffix>-first``, ``-huge``, ``-last``); the middle row's text
    is ``field_mb`` MB long."""
    chunk = "lorem ipsum dolor sit amet, " * 40_000
    n = field_mb * MB // len(chunk) + 1
    kind = path.suffix[1:]
    with path.open("w", encoding="utf-8", newline="") as f:
        if kind == "csv":
            f.write(f'id,text\n{kind}-first,"{FINDING}"\n{kind}-huge,"')
            for _ in range(n):
                f.write(chunk)
            f.write(f'"\n{kind}-last,No rest day for the workers.\n')
        else:
            f.write(json.dumps({"id": f"{kind}-first", "text": FINDING}) + f'\n{{"id": "{kind}-huge", "text": "')
            for _ in range(n):
                f.write(chunk)
            f.write('"}\n' + json.dumps({"id": f"{kind}-last", "text": "No rest day for the workers."}) + "\n")


# --- running a read in its own process, bounded --------------------------------------------------

READER = r"""
import json, re, sys, time
from screening.ingest import TableOptions, read_inputs

def status(field):
    return int(re.search(field + r":\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024

before = status("VmRSS")
started = time.perf_counter()
docs = [{"id": d.id, "code": d.error.code if d.error else None, "chars": len(d.text), "finding": FINDING in d.text}
        for d in read_inputs(sys.argv[1:], TableOptions())]
print(json.dumps({"docs": docs, "seconds": time.perf_counter() - started,
                  "grew_mb": status("VmHWM") - before}))
""".replace("FINDING", repr(FINDING))


def read_bounded(paths: list[Path], timeout: float = 120, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Read ``paths`` with ``screening.ingest.read_inputs`` in a fresh process; what it read, in how long and
    how much memory it took beyond its imports. A process that runs past ``timeout`` fails the test."""
    try:
        done = subprocess.run([sys.executable, "-c", READER, *map(str, paths)], capture_output=True, text=True,
                              timeout=timeout, env={**ENV, **(env or {})}, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {[p.name for p in paths]} did not finish in {timeout} s")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{[p.name for p in paths]}: {report['seconds']:.2f} s, +{report['grew_mb']:.0f} MB")  # shown with -s
    return report


def by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(d["id"]).name: d for d in report["docs"]}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of hostile files (built once), with a good document before and after them."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "0_first.txt").write_text(FINDING)
    (folder / "bomb.docx").write_bytes(docx_bomb())
    (folder / "pages_100k.pdf").write_bytes(pdf_many_pages(10, 5))
    (folder / "pages_10k.pdf").write_bytes(pdf_many_pages(10, 4))
    (folder / "recursive.pdf").write_bytes(pdf_recursive())
    (folder / "stream_bomb.pdf").write_bytes(pdf_stream_bomb())
    (folder / "nested_2m.html").write_bytes(nested_html(2_000_000))
    (folder / "nested_100k.html").write_bytes(nested_html(100_000))
    write_big_table(folder / "big_field.csv")
    write_big_table(folder / "big_line.jsonl")
    (folder / "z_last.txt").write_text(FINDING)
    return folder


def _assert_refused(report: dict[str, Any], name: str, code: str, grew_mb: float) -> None:
    # Time is bounded by read_bounded's hang guard; how long each read takes is printed (-s), not asserted.
    doc = by_id(report)[name]
    assert doc["code"] == code, doc
    assert report["grew_mb"] < grew_mb, report


def test_docx_zip_bomb_is_refused_before_it_is_inflated(hostile: Path) -> None:
    assert zipfile.ZipFile(hostile / "bomb.docx").getinfo("word/document.xml").file_size > 250 * MB
    report = read_bounded([hostile / "bomb.docx"])
    _assert_refused(report, "bomb.docx", "too_large", grew_mb=150)


@pytest.mark.parametrize("name", ["pages_100k.pdf", "pages_10k.pdf"])
def test_pdf_with_a_huge_page_count_is_refused(hostile: Path, name: str) -> None:
    assert (hostile / name).stat().st_size < 2_000
    report = read_bounded([hostile / name])
    _assert_refused(report, name, "too_large", grew_mb=250)


def test_pdf_with_recursive_objects_is_unreadable_not_a_hang(hostile: Path) -> None:
    report = read_bounded([hostile / "recursive.pdf"])
    _assert_refused(report, "recursive.pdf", "unreadable_pdf", grew_mb=150)


def test_pdf_whose_stream_inflates_to_hundreds_of_megabytes_is_refused(hostile: Path) -> None:
    report = read_bounded([hostile / "stream_bomb.pdf"])
    _assert_refused(report, "stream_bomb.pdf", "too_large", grew_mb=250)


def test_html_with_millions_of_nested_tags_is_refused_before_parsing(hostile: Path) -> None:
    report = read_bounded([hostile / "nested_2m.html"])
    _assert_refused(report, "nested_2m.html", "too_large", grew_mb=150)


def test_deeply_nested_html_under_the_limit_is_read_whole_in_bounded_memory(hostile: Path) -> None:
    report = read_bounded([hostile / "nested_100k.html"], timeout=90)
    doc = by_id(report)["nested_100k.html"]
    assert doc["code"] is None and doc["finding"] and doc["chars"] == len(FINDING), doc
    assert report["grew_mb"] < 250, report


@pytest.mark.parametrize("name", ["big_field.csv", "big_line.jsonl"])
def test_table_with_a_100_megabyte_field_refuses_that_row_and_reads_the_others(hostile: Path, name: str) -> None:
    assert (hostile / name).stat().st_size > 100 * MB
    report = read_bounded([hostile / name])
    kind = name.rsplit(".", 1)[1]
    first, huge, last = report["docs"]  # the refused row keeps its place (its id is the row number)
    assert first["id"] == f"{kind}-first" and first["finding"] and first["code"] is None
    assert huge["code"] == "too_large" and huge["chars"] == 0
    assert last["id"] == f"{kind}-last" and last["code"] is None and last["chars"] > 0
    assert report["grew_mb"] < 250, report


def scan(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``screening scan`` (mini taxonomy, rules only, one process) in a fresh interpreter."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", "scan", *args, "--taxonomy", str(MINI), "--replace-taxonomy",
         "--rules-only", "-j", "1"],
        capture_output=True, timeout=timeout, env={**ENV, **(env or {})}, cwd=ROOT,
    )
    return done, time.perf_counter() - started


def records(path: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for line in path.read_bytes().decode("utf-8").splitlines():
        record = json.loads(line)
        assert_contract(record)
        out[record["id"]] = record
    return out


def test_a_batch_of_hostile_files_finishes_and_screens_the_good_ones(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done, seconds = scan(str(hostile), "-o", str(out), "-q", timeout=300)
    print(f"hostile batch: {seconds:.1f} s")  # shown with -s
    assert done.returncode == 3, done.stderr.decode(errors="replace")[-3000:]  # some documents had errors
    got = records(out)
    expected = {
        "bomb.docx": "too_large", "pages_100k.pdf": "too_large", "pages_10k.pdf": "too_large",
        "recursive.pdf": "unreadable_pdf", "stream_bomb.pdf": "too_large", "nested_2m.html": "too_large",
        "big_field:2": "too_large", "big_line:2": "too_large",
    }
    for doc_id, code in expected.items():
        assert got[doc_id]["error"]["code"] == code, (doc_id, got[doc_id])
    for doc_id in ("0_first.txt", "z_last.txt", "nested_100k.html", "csv-first", "jsonl-first"):
        assert got[doc_id]["error"] is None and [i["id"] for i in got[doc_id]["indicators"]] == ["X01"], doc_id
    for doc_id in ("csv-last", "jsonl-last"):
        assert got[doc_id]["error"] is None and got[doc_id]["verdict"] is not None
    assert len(got) == len(expected) + 7


# --- per-document limits are settings -------------------------------------------------------------

def test_limits_are_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"SCREENING_MAX_CHARS": "1000", "SCREENING_MAX_UNPACKED_BYTES": "2000",
                        "SCREENING_MAX_PDF_PAGES": "3", "SCREENING_MAX_HTML_TAGS": "40",
                        "SCREENING_MAX_SECONDS": "1.5"}.items():
        monkeypatch.setenv(name, value)
    s = Settings.from_env()
    assert (s.max_chars, s.max_unpacked_bytes, s.max_pdf_pages, s.max_html_tags, s.max_seconds) == (
        1000, 2000, 3, 40, 1.5)


def test_tighter_limits_from_the_environment_apply_to_every_format(tmp_path: Path) -> None:
    files = {
        "a.txt": ("x " * 600).encode(),
        "b.pdf": make_pdf([FINDING] * 2),
        "c.docx": make_docx([FINDING] * 20),
        "d.html": b"<p>" * 50 + b"text",
        "e.jsonl": json.dumps({"text": "y " * 600}).encode() + b"\n" + json.dumps({"text": "ok"}).encode() + b"\n",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    env = {"SCREENING_MAX_CHARS": "1000", "SCREENING_MAX_UNPACKED_BYTES": "2000", "SCREENING_MAX_HTML_TAGS": "40"}
    docs = read_bounded([tmp_path], env=env)["docs"]
    codes = {d["id"]: d["code"] for d in docs}
    assert codes == {"a.txt": "too_large", "b.pdf": None, "c.docx": "too_large", "d.html": "too_large",
                     "e:1": "too_large", "e:2": None}, codes
    env = {"SCREENING_MAX_PDF_PAGES": "0"}
    assert read_bounded([tmp_path / "b.pdf"], env=env)["docs"][0]["code"] == "too_large"


def test_reading_past_the_time_limit_is_a_timeout_record(tmp_path: Path) -> None:
    (tmp_path / "slow.pdf").write_bytes(make_pdf([FINDING]))
    docs = read_bounded([tmp_path / "slow.pdf"], env={"SCREENING_MAX_SECONDS": "0"})["docs"]
    assert docs[0]["code"] == "timeout"


def test_screening_past_the_time_limit_is_a_timeout_record(mini_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (FINDING + "\n") * 10_000  # several chunks
    monkeypatch.setattr(mini_engine, "max_seconds", 0.0, raising=False)
    with pytest.raises(ScreeningError) as err:
        mini_engine.screen(text)
    assert err.value.code == "timeout"
    record = mini_engine.screen_document(Document("slow", text)).to_dict()
    assert record["error"]["code"] == "timeout" and record["score"] is None


def test_text_over_the_character_limit_is_refused_by_the_engine(mini_engine: Engine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mini_engine, "max_chars", 100, raising=False)
    record = mini_engine.screen_document(Document("long", FINDING * 10)).to_dict()
    assert record["error"]["code"] == "too_large"


# --- symbolic links and file names ----------------------------------------------------------------

@pytest.fixture()
def linked(tmp_path: Path) -> Path:
    """A folder holding links out of itself: to a file, a folder, a device, and back to its parent."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The agent keeps the workers' passports. SECRET-OUTSIDE")
    folder = tmp_path / "scan"
    folder.mkdir()
    (folder / "own.txt").write_text(FINDING)
    (folder / "link_file.txt").symlink_to(outside / "secret.txt")
    (folder / "link_dir").symlink_to(outside, target_is_directory=True)
    (folder / "zero.txt").symlink_to("/dev/zero")
    (folder / "loop").symlink_to(tmp_path, target_is_directory=True)
    return folder


def test_symlinks_out_of_the_scanned_folder_are_not_followed(linked: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done, _ = scan(str(linked), "-o", str(out), "-q", "--include-text", timeout=120)
    assert done.returncode == 3
    got = records(out)
    assert got["own.txt"]["error"] is None
    for name in ("link_file.txt", "link_dir", "zero.txt", "loop"):
        assert got[name]["error"]["code"] == "symlink", name
    assert "SECRET-OUTSIDE" not in out.read_text(encoding="utf-8")


def test_symlinked_files_are_read_with_follow_symlinks_and_folders_are_still_not_entered(linked: Path,
                                                                                         tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    done, _ = scan(str(linked), "-o", str(out), "-q", "--include-text", "--follow-symlinks", timeout=120)
    assert done.returncode == 0, done.stderr
    got = records(out)
    assert set(got) == {"own.txt", "link_file.txt"}  # a device is not a file; linked folders are not walked
    assert "SECRET-OUTSIDE" in got["link_file.txt"]["text"]


CONTROL_NAMES = ["bell\x07.txt", "esc\x1b[31mred.txt", "new\nline.txt", "cr\rreturn.txt", "tab\t.txt",
                 "del\x7f.txt", "bidi\u202etxt.exe.txt", "zero\u200bwidth.txt", "c1\x9b.txt"]


def test_file_names_with_control_characters_are_read_and_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    for name in CONTROL_NAMES:
        (folder / name).write_text(FINDING)
    undecodable = os.fsencode(folder) + b"/latin1-\xe9.txt"
    with open(undecodable, "wb") as f:
        f.write(FINDING.encode())
    (folder / "broken\x1b]0;title\x07.pdf").write_bytes(b"%PDF-1.4 not a pdf")
    out = tmp_path / "out.jsonl"
    done, _ = scan(str(folder), "-o", str(out), timeout=120)
    assert done.returncode == 3  # the broken PDF
    got = records(out)  # valid UTF-8 JSON, one record per file
    assert len(got) == len(CONTROL_NAMES) + 2
    for name in CONTROL_NAMES:
        assert got[name]["error"] is None and got[name]["indicators"][0]["id"] == "X01", name
    assert got["latin1-\\udce9.txt"]["error"] is None  # bytes that are not UTF-8 become an escape in the id
    table, _ = scan(str(folder), "--format", "table", timeout=120)
    for stream in (done.stderr, table.stdout, table.stderr):
        text = stream.decode("utf-8")
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]", text), text


# --- artefact integrity ---------------------------------------------------------------------------

class _Boom:
    """Unpickling this touches a file: proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def _artefact(folder: Path, model: Any, *, sha256: str | None = None, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / MODEL_FILE)
    digest = sha256 or artefacts.sha256_file(folder / MODEL_FILE)
    manifest = {"format": artefacts.FORMAT_VERSION, "libraries": library_versions(),
                "files": files if files is not None else {MODEL_FILE: digest}}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


@pytest.fixture()
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = joblib.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(artefacts.joblib, "load", spy)
    return calls


def test_model_with_a_wrong_sha256_is_refused_before_it_is_unpickled(tmp_path: Path, no_unpickling: list) -> None:
    marker = tmp_path / "pickle-ran"
    folder = _artefact(tmp_path / "model", _Boom(marker), sha256="0" * 64)
    with pytest.raises(ModelError) as err:
        load_artefact(folder)
    assert err.value.code == "model_tampered"
    assert not marker.exists() and no_unpickling == []


def test_model_file_swapped_after_verification_is_not_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pickle-ran"
    folder = _artefact(tmp_path / "model", {"benign": True})
    evil = pickle.dumps(_Boom(marker))
    real_verify = artefacts.verify_artefact

    def verify_then_swap(directory: Path) -> dict[str, Any]:
        manifest = real_verify(directory)
        (directory / MODEL_FILE).write_bytes(evil)  # the file changes between the check and the load
        return manifest

    monkeypatch.setattr(artefacts, "verify_artefact", verify_then_swap)
    with pytest.raises(ModelError) as err:
        load_artefact(folder)
    assert err.value.code == "model_tampered" and not marker.exists()


@pytest.mark.parametrize("name", ["../model.joblib", "/etc/passwd", "sub/model.joblib"])
def test_manifest_cannot_point_outside_its_folder(tmp_path: Path, name: str) -> None:
    folder = _artefact(tmp_path / "model", {"benign": True})
    digest = artefacts.sha256_file(folder / MODEL_FILE)
    (tmp_path / "model.joblib").write_bytes((folder / MODEL_FILE).read_bytes())
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"] = {MODEL_FILE: digest, name: digest}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError):
        verify_artefact(folder)


def test_intact_model_loads(tmp_path: Path) -> None:
    model, manifest = load_artefact(_artefact(tmp_path / "model", {"benign": [1, 2, 3]}))
    assert model == {"benign": [1, 2, 3]} and MODEL_FILE in manifest["files"]


def test_no_model_is_loaded_from_the_working_directory(tmp_path: Path) -> None:
    """``models/<profile>`` is resolved from the settings, never from wherever the command runs."""
    marker = tmp_path / "pickle-ran"
    planted = tmp_path / "models" / PROFILES[0]
    _artefact(planted, _Boom(marker))  # a correct sha256: only the location protects here
    marker.unlink(missing_ok=True)
    code = f"from screening.models.loading import default_engine; default_engine({PROFILES[0]!r})"
    env = {k: v for k, v in ENV.items() if not k.startswith("SCREENING_MODEL")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not marker.exists()


def test_taxonomy_with_a_wrong_sha256_is_refused_before_it_is_parsed(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    good = hashlib.sha256(MINI.read_bytes()).hexdigest()
    assert load_taxonomy_file(MINI, sha256=good).name == "mini"
    parsed: list[Any] = []
    monkeypatch.setattr("screening.taxonomy.yaml.safe_load", lambda *a, **k: parsed.append(a))
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy_file(MINI, sha256="f" * 64)
    assert err.value.code == "taxonomy_tampered" and parsed == []
    with pytest.raises(TaxonomyError) as err:
        Engine("mini", taxonomy=MINI, replace_taxonomy=True, taxonomy_sha256="f" * 64)
    assert err.value.code == "taxonomy_tampered"


def test_taxonomy_yaml_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "yaml-ran"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"schema: 1\nname: !!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path "
                    f"[{str(marker)!r}]]\n")
    with pytest.raises(TaxonomyError):
        load_taxonomy_file(evil)  # yaml.safe_load: no python/* tags
    assert not marker.exists()


@pytest.mark.skipif(not (shipped_taxonomy_path(PROFILES[0]).parent / "SHA256SUMS").is_file(),
                    reason="shipped taxonomies are not pinned by taxonomies/SHA256SUMS")
def test_shipped_taxonomies_are_pinned_and_a_tampered_copy_is_refused(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for profile in PROFILES:
        load_taxonomy(profile)  # every shipped file matches SHA256SUMS
    path = shipped_taxonomy_path(PROFILES[0])
    tampered = tmp_path / path.name
    shutil.copy(path, tampered)
    tampered.write_bytes(tampered.read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr("screening.taxonomy.shipped_taxonomy_path", lambda profile: tampered)
    with pytest.raises(TaxonomyError) as err:
        load_taxonomy(PROFILES[0])
    assert err.value.code == "taxonomy_tampered"
