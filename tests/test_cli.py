from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from screening.cli import main

from .conftest import FIXTURES, ROOT
from .helpers import assert_contract

MINI = ["--taxonomy", str(FIXTURES / "mini_taxonomy.yaml"), "--replace-taxonomy"]


def _write_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("The agent keeps the passports.")
    (folder / "b.txt").write_text("No passports were kept by the employer.")
    (folder / "c.pdf").write_bytes(b"%PDF-1.4 broken")
    return folder


def test_scan_folder_writes_one_contract_record_per_document(tmp_path, capsys) -> None:
    folder = _write_folder(tmp_path)
    out = tmp_path / "out.jsonl"
    code = main(["scan", str(folder), *MINI, "--output", str(out), "--include-text"])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a.txt", "b.txt", "c.pdf"]
    for r in records:
        assert_contract(r, r.get("text"))
    assert records[0]["verdict"] != "low" and records[1]["verdict"] == "low"
    assert records[2]["error"]["code"] == "unreadable_pdf" and records[2]["verdict"] is None
    assert code == 3  # a document could not be read; the rest were screened
    err = capsys.readouterr().err
    assert "3 documents" in err and "1 errors" in err


def test_fail_on_gates_a_pipeline(tmp_path) -> None:
    folder = _write_folder(tmp_path)
    (folder / "c.pdf").unlink()
    assert main(["scan", str(folder / "b.txt"), *MINI, "-q", "-o", str(tmp_path / "o")]) == 0
    assert main(["scan", str(folder), *MINI, "-q", "--fail-on", "review", "-o", str(tmp_path / "o")]) == 1


def test_quiet_prints_nothing_on_stderr(tmp_path, capsys) -> None:
    folder = _write_folder(tmp_path)
    main(["scan", str(folder), *MINI, "--quiet", "-o", str(tmp_path / "o.jsonl")])
    assert capsys.readouterr().err == ""


def test_csv_and_table_and_html_formats(tmp_path) -> None:
    folder = _write_folder(tmp_path)
    main(["scan", str(folder), *MINI, "-q", "--format", "csv", "-o", str(tmp_path / "r.csv")])
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["id"] for r in rows] == ["a.txt", "b.txt", "c.pdf"] and rows[0]["indicators"] == "X01"
    main(["scan", str(folder), *MINI, "-q", "--format", "table", "-o", str(tmp_path / "r.txt")])
    assert "keeps the passports" in (tmp_path / "r.txt").read_text()
    main(["scan", str(folder), *MINI, "-q", "--format", "html", "--include-text", "-o", str(tmp_path / "r.html")])
    page = (tmp_path / "r.html").read_text()
    assert "<mark" in page and "Indicators present" in page and "trafficking" in page


def test_stdin_jsonl_with_text_field(tmp_path) -> None:
    data = json.dumps({"ref": "s1", "body": "The agent keeps the passports."}) + "\n"
    p = subprocess.run(
        [sys.executable, "-m", "screening.cli", "scan", "-", "--input-format", "jsonl", "--text-field", "body",
         "--id-field", "ref", *MINI, "-q"],
        input=data, capture_output=True, text=True, cwd=ROOT, check=True,
    )
    (record,) = [json.loads(line) for line in p.stdout.splitlines()]
    assert record["id"] == "s1" and record["indicators"][0]["id"] == "X01"


def test_taxonomy_listing_shows_indicators_and_sources(capsys) -> None:
    assert main(["taxonomy"]) == 0
    out = capsys.readouterr().out
    assert "FL07" in out and "RC01" in out and "source:" in out


def test_taxonomy_validate_accepts_a_good_file_and_refuses_a_bad_one(tmp_path, capsys) -> None:
    assert main(["taxonomy", "validate", str(FIXTURES / "mini_taxonomy.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text((FIXTURES / "mini_taxonomy.yaml").read_text().replace("weight: 0.9", "weight: 9"))
    assert main(["taxonomy", "validate", str(bad)]) == 2
    assert "indicator X01.weight" in capsys.readouterr().err


def test_unknown_profile_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", "x.txt", "--profile", "nope"])
    assert exc.value.code == 2


def test_console_script_runs_on_the_shipped_examples(tmp_path) -> None:
    exe = Path(sys.executable).parent / "screening"
    p = subprocess.run([str(exe), "scan", str(ROOT / "corpora/examples/recruitment"), "--profile", "recruitment",
                        "-q"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    records = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(records) == 4 and all(r["error"] is None for r in records)
