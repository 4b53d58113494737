"""Shared assertions for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from screening.results import ASSERTIONS, VERDICTS

CONTRACT_KEYS = {"id", "profile", "score", "verdict", "indicators", "evidence", "engine", "error"}


def assert_offsets(text: str, evidence: Any) -> None:
    """The output invariant: every evidence span is exactly the text it points at."""
    for e in evidence:
        start, end, snippet = (e["start"], e["end"], e["text"]) if isinstance(e, dict) else (e.start, e.end, e.text)
        assert text[start:end] == snippet, (start, end, snippet)


def assert_contract(record: dict[str, Any], text: str | None = None) -> None:
    """A result record has exactly the contract's shape."""
    assert CONTRACT_KEYS <= set(record)
    if record["error"] is not None:
        assert set(record["error"]) == {"code", "message"}
        return
    assert 0.0 <= record["score"] <= 1.0
    assert record["verdict"] in VERDICTS
    for ind in record["indicators"]:
        assert set(ind) == {"id", "name", "score", "evidence"}
    for e in record["evidence"]:
        assert e["assertion"] in ASSERTIONS
        assert e["source"] in ("rule", "model")
        assert e["start"] < e["end"]
    asserted_ids = {e["indicator"] for e in record["evidence"] if e["assertion"] == "asserted" and e["source"] == "rule"}
    assert asserted_ids <= {i["id"] for i in record["indicators"]}
    if text is not None:
        assert_offsets(text, record["evidence"])


def kill_mid_run(cmd: list[str], out: Path, *, min_bytes: int = 20_000, timeout: float = 60,
                 cwd: Path | None = None) -> int:
    """Start ``cmd``, SIGKILL it (its whole process group) once ``out`` holds ``min_bytes``; lines written."""
    proc = subprocess.Popen(cmd, start_new_session=True, cwd=cwd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < min_bytes):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(out.read_text().splitlines())
