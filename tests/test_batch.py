from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from screening.batch import BATCH, EngineConfig, _batches, resume_state, screen_stream
from screening.cli import main
from screening.ingest import Document

from .conftest import FIXTURES
from .helpers import kill_mid_run

MINI = ["--taxonomy", str(FIXTURES / "mini_taxonomy.yaml"), "--replace-taxonomy", "--rules-only"]
LINES = ["The agent keeps the passports of worker {n}.", "Fire drill {n} completed on time.",
         "No passports were kept by the employer at site {n}.", "Workers had no rest day in week {n}."]


def _input(path: Path, n: int) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"d{i}", "text": LINES[i % 4].format(n=i)}) + "\n")
    return path


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_batches_are_lazy_and_bounded() -> None:
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield Document(str(pulled), "text")

    first = next(_batches(endless(), 10))
    assert len(first) == 10 and pulled == 10  # a generator larger than memory is never materialised


def test_in_process_stream_pulls_documents_lazily() -> None:
    config = EngineConfig("mini", str(FIXTURES / "mini_taxonomy.yaml"), True, use_model=False)
    pulled = 0

    def counted():
        nonlocal pulled
        for i in range(20 * BATCH):
            pulled += 1
            yield Document(f"x{i}", LINES[i % 4].format(n=i))

    stream = screen_stream(config.build(), config, counted(), jobs=1)
    assert [r.id for r in itertools.islice(stream, 5)] == [f"x{i}" for i in range(5)]
    assert pulled <= BATCH + 1  # memory stays flat: the input is never read ahead whole


def test_jobs_one_and_two_give_identical_results_in_input_order(tmp_path: Path) -> None:
    src = _input(tmp_path / "in.jsonl", 600)
    main(["scan", str(src), *MINI, "-q", "--jobs", "1", "-o", str(tmp_path / "a.jsonl")])
    main(["scan", str(src), *MINI, "-q", "--jobs", "2", "-o", str(tmp_path / "b.jsonl")])
    a, b = _records(tmp_path / "a.jsonl"), _records(tmp_path / "b.jsonl")
    assert [r["id"] for r in a] == [f"d{i}" for i in range(600)]
    assert a == b


def test_stream_with_workers_matches_in_process(tmp_path: Path) -> None:
    config = EngineConfig("mini", str(FIXTURES / "mini_taxonomy.yaml"), True, use_model=False)
    engine = config.build()
    docs = [Document(f"x{i}", LINES[i % 4].format(n=i)) for i in range(300)]
    serial = [r.to_dict() for r in screen_stream(engine, config, docs, jobs=1)]
    parallel = [r.to_dict() for r in screen_stream(engine, config, docs, jobs=2)]
    assert serial == parallel


def test_resume_cuts_a_truncated_line_and_lists_done_ids(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "a"}) + "\n" + json.dumps({"id": "b"}) + "\n" + '{"id": "c", "sco')
    assert resume_state(out) == {"a", "b"}
    assert out.read_text().endswith("}\n")


def test_sigkill_then_resume_gives_every_id_exactly_once(tmp_path: Path) -> None:
    src = _input(tmp_path / "in.jsonl", 4000)
    full = tmp_path / "full.jsonl"
    main(["scan", str(src), *MINI, "-q", "--jobs", "1", "-o", str(full)])
    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "screening.cli", "scan", str(src), *MINI, "-q", "--jobs", "1", "-o", str(out)]
    partial = kill_mid_run(cmd, out)
    assert 0 < partial < 4000
    assert main(["scan", str(src), *MINI, "-q", "--jobs", "1", "-o", str(out), "--resume"]) == 0
    resumed = _records(out)
    assert sorted(r["id"] for r in resumed) == sorted(f"d{i}" for i in range(4000))
    by_id = {r["id"]: r for r in resumed}
    assert all(by_id[r["id"]] == r for r in _records(full))


def test_resume_needs_a_jsonl_output(capsys) -> None:
    assert main(["scan", "x.txt", "--resume"]) == 2
    assert "--resume needs --output" in capsys.readouterr().err


def test_report_html_and_label_studio_export(tmp_path: Path) -> None:
    src = _input(tmp_path / "in.jsonl", 8)
    res = tmp_path / "res.jsonl"
    main(["scan", str(src), *MINI, "-q", "--include-text", "-o", str(res)])
    assert main(["report", str(res), "--out", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert "Documents by verdict" in page and "<mark" in page and 'id="filter"' in page
    assert main(["report", str(res), "--label-studio", "--out", str(tmp_path / "ls.json")]) == 0
    tasks = json.loads((tmp_path / "ls.json").read_text())
    assert tasks and all(t["predictions"][0]["result"] for t in tasks)
    for t in tasks:
        for r in t["predictions"][0]["result"]:
            v = r["value"]
            assert t["data"]["text"][v["start"] : v["end"]] == v["text"]


def test_label_studio_export_needs_text(tmp_path: Path, capsys) -> None:
    src = _input(tmp_path / "in.jsonl", 4)
    res = tmp_path / "res.jsonl"
    main(["scan", str(src), *MINI, "-q", "-o", str(res)])
    assert main(["report", str(res), "--label-studio", "--out", str(tmp_path / "x.json")]) == 2
    assert "--include-text" in capsys.readouterr().err
