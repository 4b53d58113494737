"""Fast, transformer and cascade backends side by side: F1, ROC-AUC and documents per second.

Data: each profile's corpus test split and, for recruitment, the EMSCAD test split. Test data is only
measured, never fitted: the fast models come from ``models/<profile>`` (trained by ``screening
train``); the transformer models are loaded from ``--models DIR/<profile>/transformer`` or fitted here
on the corpus train split (+ dev for the matcher's thresholds) and, for recruitment, EMSCAD train, like
the fast model, then saved under ``--save-models``. Also measured: semantic-matcher recall on the
paraphrase set against the rules alone, the cascade's throughput relative to the fast path on short ads
(fast and cascade timed alternately, median of ``--repeats`` runs), and the encoder in bf16 and fp32.

Usage: python bench/transformer_eval.py [--profiles recruitment supplier] [--models DIR]
       [--save-models DIR] [--out bench/results/transformer.md]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from screening.engine import Engine
from screening.models.data import LabelledDoc, load_emscad, load_spec
from screening.models.loading import default_engine
from screening.models.metrics import binary_metrics
from screening.transformer.encoder import SentenceEncoder, load_encoder
from screening.transformer.scorer import CascadeScorer, TransformerScorer
from screening.transformer.train import fit_transformer, save_transformer

ROOT = Path(__file__).resolve().parent.parent
EMSCAD = ROOT.parent / "shared" / "data" / "emscad"
PARAPHRASES = ROOT / "tests" / "fixtures" / "paraphrases"
log = logging.getLogger("transformer_eval")


def timed_run(engine: Engine, docs: Sequence[LabelledDoc]) -> tuple[dict[str, Any], float, np.ndarray]:
    """Screen every document once; figures, documents per second and the scores."""
    for d in docs[:3]:  # warm-up: first calls build caches
        engine.screen(d.text, d.id)
    start = time.perf_counter()
    results = [engine.screen(d.text, d.id) for d in docs]
    rate = len(docs) / (time.perf_counter() - start)
    y = np.array([d.label for d in docs])
    scores = np.array([r.score or 0.0 for r in results])
    flagged = np.array([r.verdict in ("review", "high") for r in results])
    return binary_metrics(y, scores, flagged), rate, scores


def rate_only(engine: Engine, docs: Sequence[LabelledDoc]) -> float:
    start = time.perf_counter()
    for d in docs:
        engine.screen(d.text, d.id)
    return len(docs) / (time.perf_counter() - start)


def paraphrase_recall(engine: Engine, profile: str) -> dict[str, Any]:
    """Recall of the matcher on its own (tagger detached, as the paraphrase test measures it) and of the rules;
    with a tagger, also of the model evidence the backend shows (matches and tagger together)."""
    rows = [json.loads(x) for x in (PARAPHRASES / f"{profile}.jsonl").read_text(encoding="utf-8").splitlines()]
    per: dict[str, list[int]] = {}
    semantic = rules = 0
    tagger = getattr(engine.scorer, "tagger", None)
    if tagger is not None:
        engine.scorer.tagger = None  # type: ignore[attr-defined]
    try:
        for r in rows:
            found = {(e.source, e.rule.startswith("semantic/")) for e in engine.screen(r["text"]).evidence
                     if e.indicator == r["indicator"] and e.assertion == "asserted"}
            s, ru = ("model", True) in found, ("rule", False) in found
            semantic += s
            rules += ru
            per.setdefault(r["indicator"], [0, 0, 0])
            per[r["indicator"]][0] += s
            per[r["indicator"]][1] += ru
            per[r["indicator"]][2] += 1
    finally:
        if tagger is not None:
            engine.scorer.tagger = tagger  # type: ignore[attr-defined]
    out: dict[str, Any] = {"n": len(rows), "semantic": round(semantic / len(rows), 4),
                           "rules": round(rules / len(rows), 4), "per_indicator": per}
    if tagger is not None:
        shown = sum(any(e.indicator == r["indicator"] and e.assertion == "asserted" and e.source == "model"
                        for e in engine.screen(r["text"]).evidence) for r in rows)
        out["with_tagger"] = round(shown / len(rows), 4)
    return out


def encoder_speed(encoder_fp32: SentenceEncoder, encoder_bf16: SentenceEncoder, texts: list[str],
                  repeats: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {"fp32": [], "bf16": []}
    vecs: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for name, enc in (("fp32", encoder_fp32), ("bf16", encoder_bf16)):
            start = time.perf_counter()
            vecs[name] = enc.encode(texts)
            rates[name].append(len(texts) / (time.perf_counter() - start))
    cos = (vecs["fp32"] * vecs["bf16"]).sum(axis=1)
    return {"sentences": len(texts), "fp32_per_s": round(statistics.median(rates["fp32"]), 1),
            "bf16_per_s": round(statistics.median(rates["bf16"]), 1),
            "speedup": round(statistics.median(rates["bf16"]) / statistics.median(rates["fp32"]), 2),
            "min_cosine": round(float(cos.min()), 6), "mean_cosine": round(float(cos.mean()), 6)}


def transformer_for(profile: str, encoder: SentenceEncoder, models: Path | None, save: Path) -> TransformerScorer:
    rules = Engine(profile)
    if models is not None and (models / profile / "transformer" / "manifest.json").is_file():
        return TransformerScorer.from_dir(rules.taxonomy, encoder, models / profile / "transformer")
    extra = [str(EMSCAD / "train.csv")] if profile == "recruitment" and (EMSCAD / "train.csv").is_file() else []
    started = time.perf_counter()
    bundle, manifest = fit_transformer(rules, encoder, extra=extra, progress=log.info)
    log.info("fitted the %s transformer models in %.0f s", profile, time.perf_counter() - started)
    out = save / profile / "transformer"
    save_transformer(out, bundle, manifest)
    return TransformerScorer.from_dir(rules.taxonomy, encoder, out)


def evaluate_profile(profile: str, encoder: SentenceEncoder, args: argparse.Namespace) -> dict[str, Any]:
    fast = default_engine(profile)
    transformer = transformer_for(profile, encoder, args.models, args.save_models)
    t_engine = Engine(profile)
    t_engine.set_scorer(transformer)
    band = tuple(args.band) if args.band else None
    cascade_scorer = CascadeScorer(t_engine.taxonomy, fast.scorer, transformer, band=band)
    c_engine = Engine(profile)
    c_engine.set_scorer(cascade_scorer)
    datasets: dict[str, list[LabelledDoc]] = {f"corpora/{profile}@test": load_spec(str(ROOT / "corpora" / profile),
                                                                                  "test")}
    if profile == "recruitment" and (EMSCAD / "test.csv").is_file():
        datasets["EMSCAD test"] = load_emscad(EMSCAD / "test.csv")
    report: dict[str, Any] = {"fast_model": fast.info.model, "transformer_model": transformer.name,
                              "band": list(cascade_scorer.band), "thresholds": {
                                  "fast": [getattr(fast.scorer, "review", None), getattr(fast.scorer, "high", None)],
                                  "transformer": [transformer.review, transformer.high]},
                              "transformer_manifest_metrics": {k: transformer.manifest["metrics"][k]
                                                               for k in ("dev", "semantic_calibration")},
                              "data": {}}
    for name, docs in datasets.items():
        rows: dict[str, Any] = {}
        fast_scores = None
        for backend, engine in (("fast", fast), ("transformer", t_engine), ("cascade", c_engine)):
            log.info("%s: %s on %s (%d documents)", profile, backend, name, len(docs))
            metrics, rate, scores = timed_run(engine, docs)
            rows[backend] = {k: metrics.get(k) for k in ("n", "positives", "precision", "recall", "f1", "roc_auc")}
            rows[backend]["docs_per_s"] = round(rate, 2)
            if backend == "fast":
                fast_scores = scores
        assert fast_scores is not None
        routed = float(np.mean([cascade_scorer.routes(s) for s in fast_scores]))
        rows["cascade"]["routed"] = round(routed, 4)
        report["data"][name] = rows
    short = datasets[f"corpora/{profile}@test"]
    fast_rates, cascade_rates = [], []
    for _ in range(args.repeats):
        fast_rates.append(rate_only(fast, short))
        cascade_rates.append(rate_only(c_engine, short))
    report["short_docs_throughput"] = {
        "data": f"corpora/{profile}@test", "mean_chars": round(float(np.mean([len(d.text) for d in short])), 1),
        "fast_per_s": round(statistics.median(fast_rates), 2), "cascade_per_s": round(statistics.median(cascade_rates), 2),
        "ratio": round(statistics.median(cascade_rates) / statistics.median(fast_rates), 3), "repeats": args.repeats}
    report["paraphrases"] = paraphrase_recall(t_engine, profile)
    return report


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = ["# Transformer backend: fast, transformer and cascade side by side", "",
             "Generated by `python bench/transformer_eval.py`; do not edit by hand.", "",
             f"Machine: {env['cpus']} CPU cores ({env['processor']}), load average {env['load_before']} before and "
             f"{env['load_after']} after the run (other work shared the cores, so rates are indicative); "
             f"torch {env['torch']}, transformers {env['transformers']}; encoder {env['encoder']} in "
             f"{env['precision']}. One process, documents screened one at a time (`Engine.screen`).", "",
             "Flagged = verdict `review` or `high`; F1 is on that flag, ROC-AUC on the score. Test splits are "
             "measured only: the fast models were trained by `screening train`; the transformer models were fitted "
             "on the corpus train split (matcher thresholds on train leave-group-out + dev) and, for recruitment, "
             "EMSCAD train.", ""]
    for profile, rep in report["profiles"].items():
        lines += [f"## {profile}", "",
                  f"Fast model `{rep['fast_model']}`; transformer model `{rep['transformer_model']}`; cascade band "
                  f"{rep['band'][0]} <= fast score < {rep['band'][1]}.", "",
                  "| data | backend | n | precision | recall | F1 | ROC-AUC | docs/s | routed to transformer |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for data, rows in rep["data"].items():
            for backend, m in rows.items():
                routed = f"{m['routed']:.1%}" if "routed" in m else ""
                lines.append(f"| {data} | {backend} | {m['n']} | {m['precision']} | {m['recall']} | {m['f1']} | "
                             f"{m['roc_auc']} | {m['docs_per_s']} | {routed} |")
        s = rep["short_docs_throughput"]
        lines += ["", f"Short documents ({s['data']}, mean {s['mean_chars']} characters), median of {s['repeats']} "
                  f"alternating runs: fast {s['fast_per_s']} docs/s, cascade {s['cascade_per_s']} docs/s, "
                  f"ratio **{s['ratio']}**.", ""]
        p = rep["paraphrases"]
        lines += [f"Paraphrase set ({p['n']} sentences, `tests/fixtures/paraphrases/{profile}.jsonl`): semantic matcher "
                  f"recall **{p['semantic']}** (on its own), rules alone **{p['rules']}**"
                  + (f"; matcher and tagger together, as the backend shows them, **{p['with_tagger']}**"
                     if "with_tagger" in p else "") + ".", "",
                  "| indicator | semantic | rules | n |", "|---|---|---|---|"]
        for iid, (sem, rul, n) in sorted(p["per_indicator"].items()):
            lines.append(f"| {iid} | {sem} | {rul} | {n} |")
        dev = rep["transformer_manifest_metrics"]["dev"]
        lines += ["", f"Transformer model on the dev split (recorded in its manifest): F1 {dev['f1']}, ROC-AUC "
                  f"{dev.get('roc_auc')}.", "", "Semantic matcher calibration (train leave-group-out + dev, passage level):",
                  "", "| indicator | threshold | precision | recall | F1 | support | prototypes |",
                  "|---|---|---|---|---|---|---|"]
        for iid, c in rep["transformer_manifest_metrics"]["semantic_calibration"].items():
            lines.append(f"| {iid} | {c['threshold']} | {c['precision']} | {c['recall']} | {c['f1']} | {c['support']} | "
                         f"{c['prototypes']} |")
        lines.append("")
    e = report["encoder_speed"]
    lines += ["## Encoder precision", "",
              f"{e['sentences']} corpus sentences, median of alternating runs: fp32 {e['fp32_per_s']} sentences/s, "
              f"bf16 autocast {e['bf16_per_s']} sentences/s (x{e['speedup']}); cosine similarity of the two "
              f"embeddings: min {e['min_cosine']}, mean {e['mean_cosine']}.", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["recruitment", "supplier"])
    ap.add_argument("--models", type=Path, help="folder with <profile>/transformer artefacts to load")
    ap.add_argument("--save-models", type=Path, default=Path("/tmp/screening-transformer-models"),
                    help="where fitted transformer artefacts are written (<profile>/transformer)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transformer.md")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--band", type=float, nargs=2, metavar=("LOW", "HIGH"), help="cascade band (default: the scorer's)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    import torch
    import transformers

    load_before = [round(x, 2) for x in os.getloadavg()]
    encoder = load_encoder()
    report: dict[str, Any] = {"profiles": {}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for profile in args.profiles:
        report["profiles"][profile] = evaluate_profile(profile, encoder, args)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    sample = [s for d in load_spec(str(ROOT / "corpora" / "recruitment"), "dev")[:80]
              for s in d.text.split("\n") if s.strip()][:256]
    report["encoder_speed"] = encoder_speed(load_encoder(precision="fp32"), load_encoder(precision="bf16"), sample,
                                            args.repeats)
    report["environment"] = {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                             "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()],
                             "torch": torch.__version__, "transformers": transformers.__version__,
                             "encoder": encoder.info.name, "precision": encoder.info.precision}
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    args.out.write_text(markdown(report), encoding="utf-8")
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
