"""``screening scan --engine dask``: same records as the local engine, in order, resumable, bounded.

One LocalCluster of two worker processes (``screening.distributed.local_cluster``) serves the whole
module; the CLI reaches it with ``--scheduler``. The missing-extra test runs in a fresh interpreter
with dask's import blocked, as on an install without ``screening[dask]``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from screening.batch import EngineConfig
from screening.cli import main
from screening.errors import ScreeningError
from screening.ingest import Document

from .conftest import FIXTURES, ROOT
from .helpers import kill_mid_run
from .test_batch import LINES, MINI, _input, _records

BLOCK_DASK = ("import sys\n"
              "class Block:\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.partition('.')[0] in ('dask', 'distributed'):\n"
              "            raise ModuleNotFoundError(name)\n"
              "sys.meta_path.insert(0, Block())\n")
MINI_CONFIG = EngineConfig("mini", str(FIXTURES / "mini_taxonomy.yaml"), True, use_model=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, Any]]:
    """(scheduler address, client) of one LocalCluster of 2 workers, shared by the module's tests."""
    distributed = pytest.importorskip("distributed")
    from screening.distributed import local_cluster

    with local_cluster(2) as lc, distributed.Client(lc) as client:
        yield lc.scheduler_address, client


def _mixed_folder(tmp_path: Path, n: int) -> Path:
    """``n`` short texts with a corrupt PDF and an empty file among them (ids sort in this order)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(n):
        (folder / f"{i:04d}.txt").write_text(LINES[i % 4].format(n=i))
    (folder / "0100-broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (folder / "0400-empty.txt").write_bytes(b"")
    return folder


def test_jobs_one_jobs_two_and_dask_give_identical_records_in_input_order(tmp_path: Path,
                                                                          cluster: tuple[str, Any]) -> None:
    folder = _mixed_folder(tmp_path, 600)  # over BATCH (256): --jobs 2 starts workers
    runs = {"j1": ["--jobs", "1"], "j2": ["--jobs", "2"], "dask": ["--engine", "dask", "--scheduler", cluster[0]]}
    for name, extra in runs.items():
        assert main(["scan", str(folder), *MINI, "-q", *extra, "-o", str(tmp_path / f"{name}.jsonl")]) == 3
    j1, j2, dask = (_records(tmp_path / f"{name}.jsonl") for name in runs)
    assert len(j1) == 602
    assert j1 == j2 == dask
    errors = {r["id"]: r["error"]["code"] for r in dask if r["error"]}
    assert errors == {"0100-broken.pdf": "unreadable_pdf", "0400-empty.txt": "empty_document"}
    assert any(r["verdict"] == "high" for r in dask)


def test_dask_resumes_a_truncated_output_with_every_id_once(tmp_path: Path, cluster: tuple[str, Any]) -> None:
    src = _input(tmp_path / "in.jsonl", 1000)
    dask = ["--engine", "dask", "--scheduler", cluster[0]]
    full = tmp_path / "full.jsonl"
    assert main(["scan", str(src), *MINI, "-q", *dask, "-o", str(full)]) == 0
    lines = full.read_text().splitlines(keepends=True)
    out = tmp_path / "cut.jsonl"
    out.write_text("".join(lines[:300]) + lines[300][:25])  # killed mid-write
    assert main(["scan", str(src), *MINI, "-q", *dask, "-o", str(out), "--resume"]) == 0
    resumed = _records(out)
    assert [r["id"] for r in resumed] == [f"d{i}" for i in range(1000)]
    assert resumed == _records(full)


def test_sigkilled_dask_client_then_resume_gives_every_id_exactly_once(tmp_path: Path,
                                                                       cluster: tuple[str, Any]) -> None:
    src = _input(tmp_path / "in.jsonl", 4000)
    dask = ["--engine", "dask", "--scheduler", cluster[0]]
    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "screening.cli", "scan", str(src), *MINI, "-q", *dask, "-o", str(out)]
    partial = kill_mid_run(cmd, out, timeout=120, cwd=ROOT)
    assert 0 < partial < 4000
    assert main(["scan", str(src), *MINI, "-q", *dask, "-o", str(out), "--resume"]) == 0
    assert sorted(r["id"] for r in _records(out)) == sorted(f"d{i}" for i in range(4000))


def test_documents_are_pulled_lazily_with_bounded_batches_in_flight(cluster: tuple[str, Any]) -> None:
    from screening.distributed import screen_stream_dask

    pulled = 0

    def endless() -> Iterator[Document]:
        nonlocal pulled
        while True:
            yield Document(f"e{pulled}", LINES[pulled % 4].format(n=pulled))
            pulled += 1

    stream = screen_stream_dask(MINI_CONFIG, endless(), client=cluster[1], batch_size=10)
    first = list(itertools.islice(stream, 25))
    stream.close()
    assert [r.id for r in first] == [f"e{i}" for i in range(25)]
    slots = 2 * 2  # two workers with one thread each
    assert pulled <= 10 * (slots + 3)  # a generator larger than memory is never materialised


def test_a_worker_that_cannot_build_the_engine_fails_the_run_without_logging_text(
        tmp_path: Path, cluster: tuple[str, Any]) -> None:
    from screening.distributed import screen_stream_dask

    bad = EngineConfig("mini", str(tmp_path / "missing.yaml"), True, use_model=False)
    docs = [Document("secret", "The agent keeps the passports of Maria Q. Private.")]
    with pytest.raises(ScreeningError) as info:
        list(screen_stream_dask(bad, docs, client=cluster[1]))
    assert info.value.code == "taxonomy_invalid" and "missing.yaml" in info.value.message
    logs = json.dumps(cluster[1].get_worker_logs())
    assert "Maria" not in logs and "passports" not in logs


def test_worker_engine_is_built_once_per_configuration() -> None:
    from screening.distributed import _worker_engine

    assert _worker_engine(MINI_CONFIG) is _worker_engine(dataclasses.replace(MINI_CONFIG))


def test_scheduler_without_dask_engine_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "x.txt", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "--scheduler needs --engine dask" in capsys.readouterr().err


def test_dask_engine_without_the_extra_says_how_to_install(tmp_path: Path) -> None:
    doc = tmp_path / "ad.txt"
    doc.write_text("Send your passport to our office.")
    code = (BLOCK_DASK + "from screening.cli import main\n"
            f"sys.exit(main(['scan', {str(doc)!r}, '--engine', 'dask', '-q']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert done.returncode == 2, done.stderr
    assert "pip install 'screening[dask]'" in done.stderr
    assert done.stdout == ""
