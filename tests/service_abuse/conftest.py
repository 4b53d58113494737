"""Fixtures of the API-abuse tests: a real uvicorn process on loopback whose pid is known (for its memory)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..conftest import ROOT

pytest.importorskip("service.main")

PROFILE = "supplier"  # its shipped model screens in milliseconds, so load tests measure the service
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class Server:
    """A running service: its base URL, its process, and the file its output goes to."""

    base: str
    host: str
    port: int
    proc: subprocess.Popen
    log: Path

    def rss_mb(self) -> float:
        """Resident memory of the server process now, in MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) / 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``service.main.run`` in its own process on a free loopback port, wait until ready, always stop it."""
    port = _free_port()
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "SCREENING_PROFILES": PROFILE, **(env or {})}
    code = f"from service.main import run; run('127.0.0.1', {port}, 1, log_level='warning')"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=full_env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            server = Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, proc, log)
            try:
                deadline = time.monotonic() + READY_TIMEOUT_S
                while True:
                    if proc.poll() is not None:
                        raise AssertionError(f"server exited:\n{log.read_text(errors='replace')}")
                    try:
                        if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"server not ready:\n{log.read_text(errors='replace')}")
                    time.sleep(0.2)
                yield server
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serve({"SCREENING_BODY_TIMEOUT_S": "3"}) as s:
        yield s
