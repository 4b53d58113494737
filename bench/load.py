"""Service latency: start the API on loopback, drive ``POST /v1/screen`` with single ~100-word ads, stop it.

The load generator is wrk (``apt-get install wrk``) with ``bench/post.lua``; without wrk, a small asyncio
+ httpx client does the same. Both are closed-loop: ``concurrency`` connections each send the next
request when the last answer arrives, bounded by a request count and a duration.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from procs import rss_kb

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command(port: int) -> tuple[list[str], str]:
    """``screening serve`` when the CLI has it, else the uvicorn command its README gives."""
    cli = Path(sys.executable).parent / "screening"
    if cli.exists():
        probe = subprocess.run([str(cli), "serve", "--help"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0 and "--port" in probe.stdout:
            return [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)], "screening serve"
    return ([sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"], "uvicorn service.main:create_app --factory")


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Server:
    """The service in a child process on 127.0.0.1; always stopped by ``stop`` (SIGTERM, then SIGKILL)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        cmd, self.how = _serve_command(self.port)
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 240.0) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                status, _ = _get(self.base + "/readyz", timeout=2)
                if status == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"server not ready after {timeout:.0f} s: {self.log_tail()}")

    def peak_rss_mb(self) -> float:
        """Peak RSS (VmHWM) of the server process and its workers, summed."""
        total = 0
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
            except (OSError, StopIteration):
                pass
        return round(total / 1024, 1)

    def rss_mb(self) -> float:
        return round(sum(rss_kb(p) for p in [self.proc.pid, *_descendants(self.proc.pid)]) / 1024, 1)

    def log_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers only
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(15)
        self.log.close()


def _descendants(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                for child in f.read().split():
                    out.append(int(child))
                    out.extend(_descendants(int(child)))
    except OSError:
        pass
    return out


def run_wrk(base: str, bodies: Path, concurrency: int, duration: float, limit: int) -> dict[str, Any]:
    """One closed-loop wrk run; latencies in ms."""
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{int(duration)}s", "--timeout", "10s", "-s", str(BENCH / "post.lua"),
           base, "--", str(bodies), str(limit)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in reversed(proc.stdout.splitlines()) if x.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-500:]} {proc.stdout[-500:]}")
    raw = json.loads(line)
    lat = raw["latency_us"]
    seconds = raw["duration_us"] / 1e6
    return {"concurrency": concurrency, "requests": raw["requests"], "seconds": round(seconds, 2),
            "req_per_s": round(raw["requests"] / seconds, 1),
            **{k: round(lat[k] / 1000, 2) for k in ("p50", "p95", "p99", "max", "mean")},
            "errors": sum(raw["errors"].values()), "error_kinds": raw["errors"], "tool": "wrk 4 (closed loop)"}


async def _httpx_run(base: str, bodies: list[bytes], concurrency: int, duration: float, limit: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + duration

    async def worker(client: httpx.AsyncClient, k: int) -> None:
        nonlocal errors, sent
        i = k
        while time.perf_counter() < deadline and sent < limit:
            sent += 1
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/screen", content=bodies[i % len(bodies)],
                                      headers={"Content-Type": "application/json"})
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - t0)
            i += concurrency

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:
        await asyncio.gather(*(worker(client, k) for k in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2)

    return {"concurrency": concurrency, "requests": len(latencies), "seconds": round(seconds, 2),
            "req_per_s": round(len(latencies) / seconds, 1), "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "max": round(1000 * latencies[-1], 2), "mean": round(1000 * sum(latencies) / len(latencies), 2),
            "errors": errors, "tool": "asyncio + httpx (closed loop)"}


def measure(ads: list[str], env: dict[str, str], concurrencies: tuple[int, ...], duration: float,
            limit: int) -> dict[str, Any]:
    """Start the server, check one answer, run each concurrency, and always stop the server."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for n, text in enumerate(ads):
            f.write(json.dumps({"text": text, "profile": "recruitment", "id": f"ad-{n}"}) + "\n")
        bodies_path = Path(f.name)
    server = Server(env)
    out: dict[str, Any] = {"how": server.how, "host": "127.0.0.1", "profile": "recruitment",
                           "ads": len(ads), "duration_s": duration, "request_limit": limit}
    try:
        out["ready_s"] = round(server.wait_ready(), 1)
        out["rss_ready_mb"] = server.rss_mb()
        status, body = _post(server.base + "/v1/screen", bodies_path.read_text().splitlines()[0].encode())
        record = json.loads(body)
        if status != 200 or "evidence" not in record:
            raise RuntimeError(f"unexpected answer {status}: {body[:300]!r}")
        out["model"] = record.get("engine", {}).get("model")
        for line in bodies_path.read_text().splitlines()[:30]:  # warm up
            _post(server.base + "/v1/screen", line.encode())
        runs = []
        for c in concurrencies:
            if shutil.which("wrk"):
                runs.append(run_wrk(server.base, bodies_path, c, duration, limit))
            else:
                bodies = [line.encode() for line in bodies_path.read_text().splitlines()]
                runs.append(asyncio.run(_httpx_run(server.base, bodies, c, duration, limit)))
        out["runs"] = runs
        out["server_peak_rss_mb"] = server.peak_rss_mb()
    finally:
        server.stop()
        bodies_path.unlink()
    return out
