"""Real uvicorn processes for the service tests: start on a free loopback port, wait until ready, always stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from .conftest import ROOT


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_service(env: dict[str, str] | None = None, *, log_file: Path | None = None, log_level: str = "warning",
                    ready_timeout: float = 120.0) -> Iterator[Server]:
    """Start ``service.main.run`` in a real uvicorn process on a free loopback port; always stop it.

    ``env`` is added to this process's environment. The process's output goes to ``log_file`` (a
    temporary file when not given).
    """
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    code = f"from service.main import run; run('127.0.0.1', {port}, 1, log_level={log_level!r})"
    with ExitStack() as stack:
        if log_file is None:
            log_file = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "server.log"
        out = stack.enter_context(open(log_file, "wb"))
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(f"http://127.0.0.1:{port}", "127.0.0.1", port, proc, log_file)
        try:
            deadline = time.monotonic() + ready_timeout
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server exited with {proc.returncode}:\n"
                                         f"{log_file.read_text(errors='replace')}")
                try:
                    if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not ready in time:\n{log_file.read_text(errors='replace')}")
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
