"""Batch-scan benchmark: ``screening scan`` throughput and peak RSS per engine, and streaming memory.

    .venv/bin/python bench/scan.py           # about 10 minutes on 2 cores (the streaming part is half of it)
    .venv/bin/python bench/scan.py --quick   # harness check: 40 ads, 2k to 10k documents (README left alone)
    .venv/bin/python bench/scan.py --render  # rewrite scan.md and the README table from scan.json

1. Engines: the short ads of ``bench/texts.py`` (each twice, unique ids) in one JSONL file, recruitment
   profile, default models, scanned with ``--jobs 1``, ``--jobs 2`` and ``--engine dask --jobs 2`` (a
   LocalCluster of 2 worker processes, one thread each). Each run is a fresh ``screening scan`` child.
2. Streaming: one JSONL file of very short documents, 10,000 vs 1,000,000, scanned with ``--jobs 1``
   by the cheapest real configuration (``--rules-only`` with the one-indicator taxonomy of
   ``tests/fixtures/mini_taxonomy.yaml --replace-taxonomy``). The large count is cut to what fits in
   ``--stream-budget`` seconds at the rate measured on 10,000 and 50,000 documents, and the output says so.

Peak RSS: "largest process" is the highest ``VmHWM`` of any process of the child's tree (sampled from
``/proc``, with the kernel's ``ru_maxrss`` from ``os.wait4`` as a floor); "all processes" is the peak of
their summed ``VmRSS``, sampled every 0.1 s. Results: ``bench/results/scan.json`` and ``scan.md``; a full
run also rewrites the table in the top-level README between ``<!-- scan:start -->`` and ``<!-- scan:end -->``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

if __name__ == "__main__" and Path(sys.executable) != VENV_PYTHON and VENV_PYTHON.exists():
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])

sys.path.insert(0, str(BENCH))

import texts as T  # noqa: E402
from procs import _children, run_child  # noqa: E402
from run import between_markers, child_env, environment, log  # noqa: E402

MINI = ["--rules-only", "--taxonomy", str(ROOT / "tests/fixtures/mini_taxonomy.yaml"), "--replace-taxonomy"]
SHORT = ["The agent keeps the passports of worker {n}.", "Fire drill {n} completed on time.",
         "No passports were kept at site {n}.", "Rest day given in week {n}."]
ENGINES = {"--jobs 1": ["--jobs", "1"], "--jobs 2": ["--jobs", "2"],
           "--engine dask --jobs 2": ["--engine", "dask", "--jobs", "2"]}


class Sampler(threading.Thread):
    """Every ``interval`` s: the summed VmRSS of a process tree (peak kept), each process's VmHWM, and
    when the output file first holds a result."""

    def __init__(self, root: int, output: Path | None, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root, self.output, self.interval = root, output, interval
        self.sum_peak_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self.started = time.perf_counter()
        self.first_output: tuple[float, int] | None = None  # (seconds after start, records then)
        self._stop_event = threading.Event()

    def _sample(self) -> None:
        kids = _children()
        total, stack = 0, [self.root]
        while stack:
            pid = stack.pop()
            stack.extend(kids.get(pid, ()))
            try:
                with open(f"/proc/{pid}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "VmHWM")))
            except OSError:
                continue
            total += int(fields.get("VmRSS", "0 kB").split()[0])
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), int(fields.get("VmHWM", "0 kB").split()[0]))
        self.sum_peak_kb = max(self.sum_peak_kb, total)
        if self.output and self.first_output is None and self.output.exists() and self.output.stat().st_size:
            with self.output.open("rb") as f:
                self.first_output = (time.perf_counter() - self.started, f.read().count(b"\n"))

    def run(self) -> None:
        while not self._stop_event.is_set():
            self._sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def measure(args: list[str], *, env: dict[str, str], timeout: float, output: Path | None) -> dict[str, Any]:
    """Run ``screening ARGS`` in its own session; wall time, exit code and peak RSS of its process tree."""
    exe = str(Path(sys.executable).parent / "screening")
    run = run_child([exe, *args], env=env, cwd=ROOT, timeout=timeout, watcher=lambda pid: Sampler(pid, output))
    sampler: Sampler = run.watcher
    largest_mb = max([run.maxrss_mb, *(kb / 1024 for kb in sampler.hwm_kb.values())])
    return {"rc": run.rc, "timed_out": run.timed_out, "wall_s": run.wall_s,
            "largest_process_mb": round(largest_mb, 1), "all_processes_mb": round(sampler.sum_peak_kb / 1024, 1),
            "processes": len(sampler.hwm_kb), "first_output": sampler.first_output,
            "stderr_tail": run.stderr.strip()[-300:] if run.rc not in (0, 1) else ""}


def engines(env: dict[str, str], folder: Path, repeat: int, limit: int | None = None) -> dict[str, Any]:
    ads = T.short_ads()[:limit]
    src = folder / "ads.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for r in range(repeat):
            for n, text in enumerate(ads):
                f.write(json.dumps({"id": f"ad-{r}-{n:04d}", "text": text}) + "\n")
    docs = len(ads) * repeat
    rows = []
    for name, flags in ENGINES.items():
        log(f"scan {docs} ads, {name}")
        out = folder / "out.jsonl"
        out.unlink(missing_ok=True)
        run = measure(["scan", str(src), "--profile", "recruitment", "-q", "-o", str(out), *flags], env=env,
                      timeout=900, output=out)
        records = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        first = run.pop("first_output")
        row = {"engine": name, "docs": docs, **run, "records": len(records),
               "docs_per_s": round(docs / run["wall_s"], 2)}
        if first:  # start-up plus the first batch (local --jobs 2 writes nothing before 256 documents are done)
            row["first_output_s"] = round(first[0], 1)
        row["same_records_as_jobs_1"] = None
        if rows:
            row["same_records_as_jobs_1"] = records == (folder / "jobs1.jsonl").read_text(encoding="utf-8").splitlines()
        else:
            out.rename(folder / "jobs1.jsonl")
        rows.append(row)
    return {"docs": docs, "ads": len(ads), "repeat": repeat, "words": T.describe(ads), "rows": rows}


def _write_short(path: Path, n: int) -> int:
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"s{i}", "text": SHORT[i % 4].format(n=i)}) + "\n")
    return path.stat().st_size


def streaming(env: dict[str, str], folder: Path, sizes: tuple[int, int, int], budget: float) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []

    def scan(n: int, timeout: float) -> dict[str, Any]:
        src = folder / f"short-{n}.jsonl"
        size = _write_short(src, n)
        log(f"streaming: {n:,} short documents ({size / 1e6:.1f} MB)")
        run = measure(["scan", str(src), *MINI, "--jobs", "1", "-q", "-o", os.devnull], env=env, timeout=timeout,
                      output=None)
        run.pop("first_output")
        src.unlink()
        row = {"docs": n, "input_mb": round(size / 1e6, 1), **run, "docs_per_s": round(n / run["wall_s"], 1)}
        rows.append(row)
        return row

    first, second, target = sizes
    small, mid = scan(first, 600), scan(second, 600)
    rate = (mid["docs"] - small["docs"]) / max(mid["wall_s"] - small["wall_s"], 1e-9)
    startup = max(small["wall_s"] - small["docs"] / rate, 0.0)
    fits = int((budget - startup) * rate * 0.9)
    large = target if fits >= target else max([n for n in (100_000, 200_000, 500_000) if n <= fits] or [second])
    note = (f"{large:,} documents (the target, {target:,}, would take about {startup + target / rate:.0f} s at "
            f"{rate:.0f} docs/s, over the {budget:.0f} s budget)" if large < target else f"{large:,} documents")
    scan(large, budget * 1.5)
    big = rows[-1]
    ratio = big["largest_process_mb"] / small["largest_process_mb"]
    return {"config": "--rules-only --taxonomy tests/fixtures/mini_taxonomy.yaml --replace-taxonomy --jobs 1",
            "target": target, "measured_large": large, "note": note, "rate_docs_per_s": round(rate, 1),
            "startup_s": round(startup, 1), "rows": rows, "peak_ratio_large_over_small": round(ratio, 3),
            "within_20_percent": abs(ratio - 1) <= 0.2 and not big["timed_out"] and big["rc"] == 0}


def _f(v: Any) -> str:
    return "–" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def markdown(res: dict[str, Any]) -> str:
    e, s = res["engines"], res["streaming"]
    lines = [f"Measured {res['environment']['date']} on {res['environment']['cpus']} cores (shared; load average "
             f"{res['environment']['loadavg_start'][0]:.1f} at the start) with `.venv/bin/python bench/scan.py`.", "",
             f"**Engines**: {e['ads']} short ads from `bench/texts.py` (mean {e['words']['words_mean']:.0f} words) "
             f"× {e['repeat']} = {e['docs']} documents in one JSONL file, `--profile recruitment`, default models.", "",
             "| engine | wall s (with start-up) | docs/s | first output s | peak RSS, largest process MB "
             "| peak RSS, all processes MB | processes | same records as --jobs 1 | exit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in e["rows"]:
        same = {None: "–", True: "yes", False: "**no**"}[r["same_records_as_jobs_1"]]
        lines.append(f"| `{r['engine']}` | {r['wall_s']} | {r['docs_per_s']} | {_f(r.get('first_output_s'))} | "
                     f"{r['largest_process_mb']} | "
                     f"{r['all_processes_mb']} | {r['processes']} | {same} | {r['rc']} |")
    lines += ["", f"**Streaming memory**: `screening scan FILE.jsonl {s['config']}` on very short documents "
              f"(6-8 words each), output to `/dev/null`; large run: {s['note']}.", "",
              "| documents | input MB | wall s | docs/s | peak RSS, largest process MB | peak RSS, all processes MB | exit |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in s["rows"]:
        lines.append(f"| {r['docs']:,} | {r['input_mb']} | {r['wall_s']}{' (timed out)' if r['timed_out'] else ''} | "
                     f"{r['docs_per_s']} | {r['largest_process_mb']} | {r['all_processes_mb']} | {r['rc']} |")
    lines += ["", f"Peak RSS at {s['measured_large']:,} documents is {s['peak_ratio_large_over_small']:.3f} × the peak "
              f"at {s['rows'][0]['docs']:,} ({'within' if s['within_20_percent'] else '**not** within'} 20%)."]
    return "\n".join(lines)


def write_readme(section: str) -> None:
    path = ROOT / "README.md"
    start, end = "<!-- scan:start -->", "<!-- scan:end -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        log("README has no scan markers; left alone")
        return
    path.write_text(between_markers(text, start, end, section), encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="40 ads, 2k to 10k documents; README left alone")
    p.add_argument("--only", default="engines,streaming", help="comma-separated parts: engines, streaming")
    p.add_argument("--target", type=int, default=1_000_000, help="documents in the large streaming run")
    p.add_argument("--stream-budget", type=float, default=900.0, help="seconds the large streaming run may take")
    p.add_argument("--results", default=str(BENCH / "results"), help="folder for scan.json and scan.md")
    p.add_argument("--render", action="store_true", help="only rewrite scan.md and the README from scan.json")
    a = p.parse_args()
    out = Path(a.results)
    if a.render:
        publish(json.loads((out / "scan.json").read_text(encoding="utf-8")), out)
        return
    parts = set(a.only.split(","))
    env = child_env(None)
    env.pop("SCREENING_BACKEND", None)
    res: dict[str, Any] = {"environment": environment(), "quick": a.quick}
    for dist in ("dask", "distributed"):
        try:
            res["environment"]["versions"][dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            res["environment"]["versions"][dist] = None
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after each part, so an interrupted run keeps what it measured
        res["loadavg_end"] = os.getloadavg()
        res["suite_s"] = round(time.perf_counter() - started, 1)
        (out / "scan.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        if "engines" in parts:
            res["engines"] = engines(env, Path(tmp), 1, 40) if a.quick else engines(env, Path(tmp), 2)
            save()
        if "streaming" in parts:
            sizes = (2_000, 5_000, 10_000) if a.quick else (10_000, 50_000, a.target)
            res["streaming"] = streaming(env, Path(tmp), sizes, a.stream_budget)
            save()
    if {"engines", "streaming"} <= parts:
        publish(res, out)
    log(f"done in {res['suite_s']} s; results in {out / 'scan.json'}")


def publish(res: dict[str, Any], out: Path) -> None:
    """Write scan.md (and the README table, for a full run into bench/results) from the results."""
    section = markdown(res)
    (out / "scan.md").write_text(section + "\n", encoding="utf-8")
    if not res["quick"] and out.resolve() == (BENCH / "results").resolve():
        write_readme(section)
    print(section)


if __name__ == "__main__":
    main()
