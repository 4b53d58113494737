"""One measurement in a fresh process; prints one JSON object on its last stdout line.

Run by ``bench/run.py`` (which reads this process's peak RSS from outside with ``os.wait4``):

    python bench/worker.py throughput CONFIG SET [--seconds S]
    python bench/worker.py scaling [--sizes 10000,...] [--budget S]
    python bench/worker.py profile SET

CONFIG: floor | pipeline | rules | default | tfidf_lr | tfidf_lr_batch | transformer | cascade
SET: short (recruitment ads, recruitment profile) | long (supplier documents, supplier profile)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import texts as T  # noqa: E402

PROFILE = {"short": "recruitment", "long": "supplier"}
MIN_DOCS = {"short": 60, "long": 4}


def peak_rss_mb() -> float:
    """Peak resident set size of this process image so far: VmHWM, which starts afresh at exec (ru_maxrss
    would carry the parent's pages counted between fork and exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_texts(which: str) -> list[str]:
    return T.short_ads() if which == "short" else T.long_documents()


def _engine(profile: str, use_model: bool) -> Any:
    from screening.models.loading import default_engine

    return default_engine(profile, use_model=use_model)


def _screen_fn(engine: Any) -> Callable[[str], Any]:
    def run(text: str) -> Any:
        return json.dumps(engine.screen(text).to_dict())

    return run


def _tfidf_lr(profile: str) -> Any:
    """The plain peer baseline: word 1-2 + char_wb 3-5 TF-IDF, default LogisticRegression, no evidence."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    docs = [r for r in T.corpus(profile) if r.split == "train"]
    texts = [d.text for d in docs]
    y = [d.label for d in docs]
    vecs = [TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)]
    x = sparse.hstack([v.fit_transform(texts) for v in vecs]).tocsr()
    model = LogisticRegression(max_iter=1000).fit(x, y)

    def predict(batch: list[str]) -> Any:
        return model.predict_proba(sparse.hstack([v.transform(batch) for v in vecs]).tocsr())[:, 1]

    return predict


def _transformer(backend: str, profile: str) -> tuple[Callable[[str], Any] | None, dict[str, Any]]:
    """The transformer (or cascade) backend when installed and saved; otherwise why it is not measured."""
    if importlib.util.find_spec("screening.transformer") is None:
        return None, {"skipped": "no screening.transformer module in this checkout"}
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("transformers") is None:
        return None, {"skipped": "torch or transformers is not installed"}
    try:
        from screening.transformer.backend import attach_backend, default_model_dir
    except ImportError as exc:
        return None, {"skipped": f"screening.transformer.backend has no attach_backend yet ({exc})"}
    if not (default_model_dir(profile) / "manifest.json").is_file():
        return None, {"skipped": f"no saved transformer model in models/{profile}/transformer (fitting one "
                                 "inside the run takes minutes)"}
    try:
        engine = attach_backend(_engine(profile, True), backend)
    except Exception as exc:  # report why, do not fail the suite
        return None, {"skipped": f"{backend} backend did not load: {type(exc).__name__}: {exc}"[:300]}
    return _screen_fn(engine), {"model": engine.info.model, "profile": profile}


def build(config: str, which: str) -> tuple[Callable[[str], Any] | None, dict[str, Any]]:
    """The per-document function of a configuration, and what was measured (model, notes)."""
    profile = PROFILE[which]
    if config == "floor":
        import spacy

        nlp = spacy.blank("en")
        return nlp, {"what": 'spacy.blank("en") tokenisation'}
    if config == "pipeline":
        from screening.nlp import build_nlp

        nlp = build_nlp()
        return nlp, {"what": "the engine's spaCy pipeline (tokeniser, sentences, lemmas)"}
    if config in ("rules", "default"):
        engine = _engine(profile, config == "default")
        return _screen_fn(engine), {"model": engine.info.model, "profile": profile}
    if config == "tfidf_lr":
        predict = _tfidf_lr(profile)
        return (lambda text: predict([text])), {"profile": profile, "what": "one predict_proba call per document"}
    if config in ("transformer", "cascade"):
        return _transformer(config, profile)
    raise SystemExit(f"unknown config {config!r}")


def throughput(config: str, which: str, seconds: float) -> dict[str, Any]:
    rss_start = peak_rss_mb()
    if config == "tfidf_lr_batch":
        predict = _tfidf_lr(PROFILE[which])
        docs = load_texts(which)
        predict(docs[:5])
        fn: Callable[[str], Any] | None = None
        info: dict[str, Any] = {"profile": PROFILE[which], "what": "one predict_proba call for all documents"}
    else:
        t0 = time.perf_counter()
        fn, info = build(config, which)
        info["load_s"] = round(time.perf_counter() - t0, 2)
        docs = load_texts(which)
    out: dict[str, Any] = {"config": config, "set": which, **info, **T.describe(docs)}
    if fn is None and config != "tfidf_lr_batch":
        out["peak_rss_mb"] = round(peak_rss_mb(), 1)
        return out
    if fn is not None:
        for text in docs[: 10 if which == "short" else 1]:  # warm caches and lazy imports
            fn(text)
    rss_loaded = peak_rss_mb()
    # Documents in turn (whole passes for the batch baseline) until `seconds` have passed and at least
    # MIN_DOCS were screened: bounded for slow configurations, several passes for fast ones.
    counts = [T.words(t) for t in docs]
    n = words = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    while True:
        if fn is None:
            predict(docs)
            n += len(docs)
            words += sum(counts)
        else:
            fn(docs[n % len(docs)])
            words += counts[n % len(docs)]
            n += 1
        if n >= MIN_DOCS[which] and time.perf_counter() - wall0 >= seconds:
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    out.update(docs_measured=n, wall_s=round(wall, 3), cpu_s=round(cpu, 3),
               docs_per_s=round(n / wall, 2), words_per_s=round(words / wall, 1),
               docs_per_cpu_s=round(n / cpu, 2), ms_per_doc=round(1000 * wall / n, 3),
               rss_before_load_mb=round(rss_start, 1), rss_loaded_mb=round(rss_loaded, 1),
               peak_rss_mb=round(peak_rss_mb(), 1), loadavg=os.getloadavg())
    return out


def scaling(sizes: list[int], budget: float) -> dict[str, Any]:
    import numpy as np
    import spacy

    from screening.engine import split_chunks
    from screening.models.loading import default_engine

    engine = default_engine("supplier")
    floor = spacy.blank("en")
    engine.screen(T.sized_document(2_000))
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for size in sizes:
        text = T.sized_document(size)
        measured = [r for r in rows if "screen_s" in r]
        if measured:
            last = measured[-1]
            projected = last["screen_s"] * size / last["bytes"]
            left = budget - (time.perf_counter() - started)
            if projected > left:
                rows.append({"bytes": size, "skipped": f"projected {projected:.0f} s (linear from the last size) "
                                                       f"exceeds the {left:.0f} s left of the scaling budget"})
                continue
        reps, elapsed, t_floor = 0, 0.0, 0.0
        while True:
            t0 = time.perf_counter()
            result = engine.screen(text)
            elapsed += time.perf_counter() - t0
            t0 = time.perf_counter()
            for _, chunk in split_chunks(text):
                floor(chunk)
            t_floor += time.perf_counter() - t0
            reps += 1
            if elapsed >= 1.0 or reps >= 20:
                break
        rows.append({"bytes": len(text.encode("utf-8")), "words": T.words(text), "reps": reps,
                     "screen_s": round(elapsed / reps, 4), "floor_s": round(t_floor / reps, 4),
                     "evidence": len(result.evidence), "verdict": result.verdict,
                     "peak_rss_mb_so_far": round(peak_rss_mb(), 1)})
    done = [r for r in rows if "screen_s" in r]
    out: dict[str, Any] = {"model": engine.info.model, "profile": "supplier", "rows": rows, "loadavg": os.getloadavg()}
    if len(done) >= 2:
        x = np.log([r["bytes"] for r in done])
        out["exponent"] = round(float(np.polyfit(x, np.log([r["screen_s"] for r in done]), 1)[0]), 3)
        out["floor_exponent"] = round(float(np.polyfit(x, np.log([r["floor_s"] for r in done]), 1)[0]), 3)
        big = [r for r in done if r["bytes"] >= 100_000]
        if len(big) >= 2:
            xb = np.log([r["bytes"] for r in big])
            out["exponent_100kb_up"] = round(float(np.polyfit(xb, np.log([r["screen_s"] for r in big]), 1)[0]), 3)
    return out


def profile(which: str, top: int, out_dir: Path) -> dict[str, Any]:
    """cProfile of the default engine over the set; the report goes to ``out_dir/profile-<set>.txt``."""
    import cProfile
    import io
    import pstats

    engine = _engine(PROFILE[which], True)
    docs = load_texts(which)
    docs = docs[:100] if which == "short" else docs[:3]
    for text in docs[:3]:
        engine.screen(text)
    prof = cProfile.Profile()
    prof.enable()
    for text in docs:
        json.dumps(engine.screen(text).to_dict())
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs()
    buf.write(f"model: {engine.info.model}; {len(docs)} documents of the '{which}' set\n")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    path = out_dir.resolve() / f"profile-{which}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    shown = path.relative_to(T.ROOT) if path.is_relative_to(T.ROOT) else path
    return {"set": which, "model": engine.info.model, "report": str(shown)}


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("config")
    t.add_argument("set", choices=("short", "long"))
    t.add_argument("--seconds", type=float, default=5.0)
    s = sub.add_parser("scaling")
    s.add_argument("--sizes", default="10000,30000,100000,300000,1000000,3000000,10000000")
    s.add_argument("--budget", type=float, default=240.0)
    f = sub.add_parser("profile")
    f.add_argument("set", choices=("short", "long"))
    f.add_argument("--top", type=int, default=40)
    f.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    a = p.parse_args()
    if a.cmd == "throughput":
        out = throughput(a.config, a.set, a.seconds)
    elif a.cmd == "scaling":
        out = scaling([int(x) for x in a.sizes.split(",")], a.budget)
    else:
        out = profile(a.set, a.top, a.out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
