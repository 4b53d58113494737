"""Run the benchmark suite and regenerate the results section of ``bench/README.md``.

    .venv/bin/python bench/run.py            # everything, about 10 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # shorter runs, to check the harness

Every configuration runs in a fresh child process (``bench/worker.py``) whose peak RSS is read from
outside with ``os.wait4``. Results go to ``bench/results/*.json``; the README's tables are rewritten
between its ``<!-- results:start -->`` and ``<!-- results:end -->`` markers, the prose is left alone.
``--pythonpath DIR`` runs every child against another checkout of the package (to measure a change
before it lands) and writes to ``--results`` without touching the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"

# The parent stays small (no screening, spaCy or numpy here): a forked child counts its parent's pages
# until it execs, and Linux carries that high-water mark into the child's ru_maxrss.
if __name__ == "__main__" and importlib.util.find_spec("screening") is None and VENV_PYTHON.exists() \
        and Path(sys.executable) != VENV_PYTHON:
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])

sys.path.insert(0, str(BENCH))

import load  # noqa: E402
import texts as T  # noqa: E402
from procs import run_child  # noqa: E402

CONFIGS = ("floor", "pipeline", "rules", "default", "tfidf_lr", "tfidf_lr_batch", "transformer", "cascade")
LABELS = {
    "floor": 'bare tokenisation, `spacy.blank("en")` (the floor)',
    "pipeline": "engine's spaCy pipeline only (tokens, sentences, lemmas)",
    "rules": "rules + assertion + evidence, rule scorer (`use_model=False`)",
    "default": "**default pipeline**: rules + assertion + trained model + evidence",
    "tfidf_lr": "plain TF-IDF + logistic regression, no evidence (one call per doc)",
    "tfidf_lr_batch": "plain TF-IDF + logistic regression, all docs in one call",
    "transformer": "transformer backend (`attach_backend(engine, \"transformer\")`)",
    "cascade": "cascade backend (fast model, transformer for the uncertain band)",
}
TARGETS = {"short_docs_per_s": 1000.0, "short_floor_ratio": 0.5, "mb_seconds": 2.0, "cli_rss_mb": 500.0,
           "service_p99_ms_c16": 50.0}
EXPONENT = (0.9, 1.1)


def child_env(pythonpath: str | None) -> dict[str, str]:
    env = os.environ.copy()
    env.setdefault("SCREENING_MODEL_DIR", str(ROOT / "models"))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    return env


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for dist in ("spacy", "scikit-learn", "numpy", "scipy", "fastapi", "uvicorn", "torch", "transformers"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    models: dict[str, str | None] = {}
    model_dir = Path(os.environ.get("SCREENING_MODEL_DIR", ROOT / "models"))
    for profile in ("recruitment", "supplier"):
        manifest = model_dir / profile / "manifest.json"
        if manifest.is_file():
            m = json.loads(manifest.read_text())
            models[profile] = f"{m['name']}@{m['files']['model.joblib'][:12]} (n_train {m.get('data', {}).get('n_train')})"
        else:
            models[profile] = None
    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version(),
            "cpus": os.cpu_count(), "machine": platform.machine(), "loadavg_start": os.getloadavg(),
            "versions": versions, "models_on_disk": models}


def throughput(env: dict[str, str], seconds: float) -> list[dict[str, Any]]:
    rows = []
    for which in ("short", "long"):
        for config in CONFIGS:
            log(f"throughput {which} {config}")
            run = run_child([sys.executable, str(BENCH / "worker.py"), "throughput", config, which,
                             "--seconds", str(seconds)], timeout=420, env=env, cwd=ROOT)
            row = run.last_json() or {"config": config, "set": which,
                                      "error": f"rc {run.rc}{' (timed out)' if run.timed_out else ''}: "
                                               f"{run.stderr.strip()[-400:]}"}
            row["child_maxrss_mb"] = run.maxrss_mb
            row["child_wall_s"] = run.wall_s
            rows.append(row)
    for which in ("short", "long"):
        floor = next((r for r in rows if r["set"] == which and r["config"] == "floor" and "docs_per_s" in r), None)
        for r in rows:
            if r["set"] == which and floor and "docs_per_s" in r:
                r["floor_ratio"] = round(r["docs_per_s"] / floor["docs_per_s"], 4)
                r["floor_ratio_cpu"] = round(r["docs_per_cpu_s"] / floor["docs_per_cpu_s"], 4)
    return rows


def scaling(env: dict[str, str], sizes: str, budget: float) -> dict[str, Any]:
    log(f"scaling {sizes} (budget {budget:.0f} s)")
    run = run_child([sys.executable, str(BENCH / "worker.py"), "scaling", "--sizes", sizes, "--budget", str(budget)],
                    timeout=budget + 400, env=env, cwd=ROOT)
    out = run.last_json() or {"error": f"rc {run.rc}: {run.stderr.strip()[-400:]}"}
    out["child_maxrss_mb"] = run.maxrss_mb
    return out


def service(env: dict[str, str], duration: float, limit: int) -> dict[str, Any]:
    log(f"service: concurrency 1, 16, 64; {duration:.0f} s or {limit} requests each")
    try:
        return load.measure(T.short_ads(), env, (1, 16, 64), duration, limit)
    except Exception as exc:  # report the failure in the table rather than losing the other results
        return {"error": f"{type(exc).__name__}: {exc}"[:600]}


def cli(env: dict[str, str], jobs: list[int]) -> list[dict[str, Any]]:
    exe = str(Path(sys.executable).parent / "screening")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ads-") as folder:
        ads = T.short_ads()  # 273: over screening.batch.BATCH (256), so --jobs > 1 really starts workers
        for n, text in enumerate(ads):
            Path(folder, f"ad-{n:04d}.txt").write_text(text, encoding="utf-8")
        for j in jobs:
            log(f"cli scan, {len(ads)} ads, --jobs {j}")
            run = run_child([exe, "scan", folder, "--profile", "recruitment", "--output", os.devnull, "--quiet",
                             "--jobs", str(j)], timeout=600, env=env, cwd=ROOT, sample_tree=True)
            rows.append({"jobs": j, "docs": len(ads), "rc": run.rc, "wall_s": run.wall_s,
                         "docs_per_s_incl_startup": round(len(ads) / run.wall_s, 1),
                         "maxrss_mb": run.maxrss_mb, "tree_peak_mb": run.tree_peak_mb,
                         "stderr": run.stderr.strip()[-300:] if run.rc else ""})
    return rows


def profiles(env: dict[str, str], out_dir: Path) -> list[dict[str, Any]]:
    out = []
    for which in ("short", "long"):
        log(f"profile {which}")
        run = run_child([sys.executable, str(BENCH / "worker.py"), "profile", which, "--out", str(out_dir)],
                        timeout=400, env=env, cwd=ROOT)
        out.append(run.last_json() or {"set": which, "error": run.stderr.strip()[-400:]})
    return out


# ---------------------------------------------------------------------------------------------- README


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _throughput_table(rows: list[dict[str, Any]], which: str) -> list[str]:
    lines = ["| configuration | model | docs/s | words/s | ms/doc | docs per CPU-s | × floor | peak RSS MB |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        if r["set"] != which:
            continue
        label = LABELS.get(r["config"], r["config"])
        if "docs_per_s" not in r:
            why = r.get("skipped") or r.get("error", "not measured")
            lines.append(f"| {label} | – | not measured: {why} | | | | | {_fmt(r.get('peak_rss_mb'))} |")
            continue
        scored = r["config"] in ("default", "transformer", "cascade")
        model = r.get("model") if scored else "–"
        if scored and model is None:
            model = "null (no model: rule scorer)"
        lines.append(f"| {label} | {model} | {_fmt(r['docs_per_s'])} | {_fmt(r['words_per_s'], 0)} | "
                     f"{_fmt(r['ms_per_doc'], 2)} | {_fmt(r['docs_per_cpu_s'])} | {_fmt(r.get('floor_ratio'), 3)} | "
                     f"{_fmt(r['peak_rss_mb'])} |")
    return lines


def _get(rows: list[dict[str, Any]], which: str, config: str) -> dict[str, Any]:
    return next((r for r in rows if r["set"] == which and r["config"] == config), {})


def readme_section(res: dict[str, Any]) -> str:
    env, rows = res["environment"], res["throughput"]
    short, long_ = _get(rows, "short", "floor"), _get(rows, "long", "floor")
    out = [f"Measured {env['date']} on {env['cpus']} CPUs ({env['machine']}), Python {env['python']}, "
           f"spaCy {env['versions']['spacy']}, scikit-learn {env['versions']['scikit-learn']}, "
           f"torch {env['versions']['torch'] or 'not installed'}. Load average at start "
           f"{', '.join(f'{x:.1f}' for x in env['loadavg_start'])}, at end "
           f"{', '.join(f'{x:.1f}' for x in res['loadavg_end'])} (other work shares this machine: compare rows "
           "of one run, and see the docs-per-CPU-second column).",
           "",
           f"Models measured: recruitment `{env['models_on_disk'].get('recruitment')}`, supplier "
           f"`{env['models_on_disk'].get('supplier')}`.",
           "",
           f"### Throughput, short ads (recruitment profile): {short.get('docs', '?')} ads, "
           f"{short.get('words_min', '?')}–{short.get('words_max', '?')} words (mean {short.get('words_mean', '?')}), "
           f"{short.get('words_total', '?')} words in all",
           "", *_throughput_table(rows, "short"), "",
           f"### Throughput, long supplier documents (supplier profile): {long_.get('docs', '?')} documents of "
           f"{long_.get('words_min', '?')}–{long_.get('words_max', '?')} words "
           f"({long_.get('chars_total', 0) / max(1, long_.get('docs', 1)) / 1000:.0f} KB each)",
           "", *_throughput_table(rows, "long"), ""]
    sc = res.get("scaling", {})
    out += ["### Scaling with document size (supplier profile, default pipeline, one document)", ""]
    if "rows" in sc:
        out += ["| size | words | screen s | MB/s | tokenisation floor s | × floor time | evidence | peak RSS so far MB |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in sc["rows"]:
            size = f"{r['bytes'] / 1e6:g} MB" if r["bytes"] >= 1e6 else f"{r['bytes'] / 1e3:g} KB"
            if "screen_s" not in r:
                out.append(f"| {size} | | not run: {r['skipped']} | | | | | |")
                continue
            out.append(f"| {size} | {r['words']:,} | {r['screen_s']:.3f} | {r['bytes'] / 1e6 / r['screen_s']:.3f} | "
                       f"{r['floor_s']:.3f} | {r['screen_s'] / r['floor_s']:.1f} | {r['evidence']:,} | "
                       f"{r['peak_rss_mb_so_far']} |")
        out += ["", f"Log-log slope of time against size: **{sc.get('exponent')}** over all measured sizes"
                f"{'' if sc.get('exponent_100kb_up') is None else ', ' + str(sc['exponent_100kb_up']) + ' from 100 KB up'}"
                f" (tokenisation floor: {sc.get('floor_exponent')}); model `{sc.get('model')}`.", ""]
    else:
        out += [f"Not measured: {sc.get('error')}", ""]
    sv = res.get("service", {})
    out += ["### Service latency (`POST /v1/screen`, one ~100-word ad per request, loopback)", ""]
    if "runs" in sv:
        out += [f"Server: `{sv['how']}` on 127.0.0.1, one process, ready after {sv['ready_s']} s, RSS when ready "
                f"{sv['rss_ready_mb']} MB, peak {sv['server_peak_rss_mb']} MB; model `{sv.get('model')}`. Each run: "
                f"at most {sv['duration_s']:.0f} s and {sv['request_limit']} requests, closed loop.", "",
                "| concurrency | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | tool |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in sv["runs"]:
            out.append(f"| {r['concurrency']} | {r['requests']} | {r['req_per_s']} | {r['p50']} | {r['p95']} | "
                       f"{r['p99']} | {r['max']} | {r['errors']} | {r['tool']} |")
        out.append("")
    else:
        out += [f"Not measured: {sv.get('error')}", ""]
    out += ["### CLI memory (`screening scan <folder of ads> --profile recruitment`)", "",
            "| --jobs | docs | wall s (with start-up) | docs/s | peak RSS, largest process MB "
            "| peak RSS, all processes MB | exit |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in res.get("cli", []):
        out.append(f"| {r['jobs']} | {r['docs']} | {r['wall_s']} | {r['docs_per_s_incl_startup']} | {r['maxrss_mb']} | "
                   f"{r['tree_peak_mb']} | {r['rc']} |")
    out += ["", *targets_table(res), ""]
    if res.get("profiles"):
        out += ["Profiles of the default pipeline (cProfile): "
                + ", ".join(f"`{p['report']}`" for p in res["profiles"] if "report" in p) + ".", ""]
    return "\n".join(out)


def targets_table(res: dict[str, Any]) -> list[str]:
    rows = res["throughput"]
    d = _get(rows, "short", "default")
    lines = ["### Against the targets", "", "| target | measured | met |", "| --- | --- | --- |"]

    def add(name: str, value: Any, ok: bool | None) -> None:
        lines.append(f"| {name} | {value} | {'–' if ok is None else ('yes' if ok else '**no**')} |")

    dps = d.get("docs_per_s")
    add("short ads ≥ 1,000 docs/s, one process", f"{_fmt(dps)} docs/s ({_fmt(d.get('docs_per_cpu_s'))} per CPU-s)",
        None if dps is None else dps >= TARGETS["short_docs_per_s"])
    ratio = d.get("floor_ratio")
    add("short ads ≥ 0.5 × tokenisation floor", f"{_fmt(ratio, 3)} × (CPU time: {_fmt(d.get('floor_ratio_cpu'), 3)} ×)",
        None if ratio is None else ratio >= TARGETS["short_floor_ratio"])
    sc = res.get("scaling", {})
    mb = next((r for r in sc.get("rows", []) if r["bytes"] >= 900_000 and "screen_s" in r), None)
    add("1 MB text < 2 s", f"{mb['screen_s']:.2f} s" if mb else "not measured", None if mb is None else mb["screen_s"] < 2)
    ex = sc.get("exponent")
    lo, hi = EXPONENT
    add("log-log exponent 0.9–1.1", f"{ex}", None if ex is None else lo <= ex <= hi)
    cli_rows = [r for r in res.get("cli", []) if r["rc"] == 0]
    if cli_rows:
        worst = max(cli_rows, key=lambda r: r["tree_peak_mb"])
        one = next((r for r in cli_rows if r["jobs"] == 1), worst)
        add("CLI peak RSS < 500 MB", f"{one['maxrss_mb']} MB with --jobs 1; {worst['tree_peak_mb']} MB summed over "
            f"processes with --jobs {worst['jobs']}", one["maxrss_mb"] < TARGETS["cli_rss_mb"])
    else:
        add("CLI peak RSS < 500 MB", "not measured", None)
    run16 = next((r for r in res.get("service", {}).get("runs", []) if r["concurrency"] == 16), None)
    add("service p99 < 50 ms at concurrency 16, 0 errors",
        f"p99 {run16['p99']} ms, {run16['errors']} errors" if run16 else "not measured",
        None if run16 is None else run16["p99"] < TARGETS["service_p99_ms_c16"] and run16["errors"] == 0)
    return lines


def between_markers(text: str, start: str, end: str, section: str) -> str:
    """``text`` with what stands between the ``start`` and ``end`` markers replaced by ``section``."""
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{section}\n{end}{tail}"


def write_readme(section: str) -> None:
    path = BENCH / "README.md"
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    if start not in text or end not in text:
        text = text.rstrip() + f"\n\n{start}\n{end}\n"
    path.write_text(between_markers(text, start, end, section), encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short runs (harness check; figures are rougher)")
    p.add_argument("--only", default="throughput,scaling,service,cli,profile",
                   help="comma-separated parts to run (the README is only rewritten when all run)")
    p.add_argument("--pythonpath", help="prepend this to PYTHONPATH in every child (measure another checkout)")
    p.add_argument("--results", default=str(BENCH / "results"), help="folder for the JSON results")
    a = p.parse_args()
    parts = set(a.only.split(","))
    env = child_env(a.pythonpath)
    seconds = 1.5 if a.quick else 4.0
    res: dict[str, Any] = {"environment": environment(), "pythonpath": a.pythonpath, "quick": a.quick}
    started = time.perf_counter()
    if "throughput" in parts:
        res["throughput"] = throughput(env, seconds)
    if "scaling" in parts:
        sizes = "10000,30000,100000,300000,1000000" if a.quick else "10000,30000,100000,300000,1000000,3000000,10000000"
        res["scaling"] = scaling(env, sizes, 60 if a.quick else 150)
    if "service" in parts:
        res["service"] = service(env, 4 if a.quick else 10, 300 if a.quick else 3000)
    if "cli" in parts:
        res["cli"] = cli(env, [1] if a.quick else [1, os.cpu_count() or 1])
    if "profile" in parts and not a.quick:
        res["profiles"] = profiles(env, Path(a.results))
    res["loadavg_end"] = os.getloadavg()
    res["suite_s"] = round(time.perf_counter() - started, 1)
    out_dir = Path(a.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if {"throughput", "scaling", "service", "cli"} <= parts:
        section = readme_section(res)
        (out_dir / "tables.md").write_text(section + "\n", encoding="utf-8")
        if not a.pythonpath and Path(a.results).resolve() == (BENCH / "results").resolve():
            write_readme(section)
        print(section)
    log(f"done in {res['suite_s']} s; results in {out_dir / 'results.json'}")


if __name__ == "__main__":
    main()
