"""Child processes measured from outside: exit status, wall time and peak RSS (``os.wait4``), and the
peak of the summed RSS of a process tree (sampled from ``/proc``) for commands that fork workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ChildRun:
    """What one measured child did."""

    rc: int
    wall_s: float
    maxrss_mb: float  # largest single process of the tree (the kernel's ru_maxrss of the waited child)
    tree_peak_mb: float  # peak of the summed RSS of the child and its descendants, sampled
    stdout: str
    stderr: str
    timed_out: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    watcher: Any = None  # the thread that watched the child, when one was asked for (see ``run_child``)

    def last_json(self) -> dict[str, Any] | None:
        """The last stdout line that parses as a JSON object."""
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    value = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(value, dict):
                    return value
        return None


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def rss_kb(pid: int) -> int:
    """Current resident set size of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """Summed RSS of ``root`` and all its descendants now."""
    kids = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss_kb(pid)
        stack.extend(kids.get(pid, ()))
    return total


class TreeSampler(threading.Thread):
    """Sample the summed RSS of a process tree every ``interval`` seconds; keep the peak."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.root))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak_kb


def run_child(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None, cwd: Path | None = None,
              sample_tree: bool = False, watcher: Callable[[int], Any] | None = None) -> ChildRun:
    """Run ``cmd`` to completion (killed after ``timeout`` seconds) and measure it.

    ``sample_tree``: sample the summed RSS of the child's process tree (``tree_peak_mb``). ``watcher``: instead,
    build a thread from the child's pid (with ``start`` and ``stop``) that watches it while it runs; it is
    returned as ``ChildRun.watcher``.
    """
    make = watcher or (TreeSampler if sample_tree else None)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True)
        sampler = make(proc.pid) if make else None
        if sampler:
            sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the child's own session: only what it started
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if sampler:
            sampler.stop()
        peak = sampler.peak_kb if isinstance(sampler, TreeSampler) else 0
        out.seek(0)
        err.seek(0)
        return ChildRun(proc.returncode, round(wall, 2), round(usage.ru_maxrss / 1024, 1), round(peak / 1024, 1),
                        out.read(), err.read(), timed_out.is_set(), watcher=sampler if watcher else None)
