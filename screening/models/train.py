"""``screening train`` and ``screening evaluate``: fit, calibrate, choose thresholds, measure, save."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import Engine
from ..results import ScreeningResult
from ..scoring import GATE_FACTOR
from ..sentences import candidate_spans
from .artefacts import save_artefact, sha256_file
from .calibration import GateCalibration
from .classifier import DocumentClassifier
from .data import LabelledDoc, load_specs
from .features import rule_feature_names, rule_features
from .indicators import IndicatorModels
from .metrics import binary_metrics, choose_thresholds, indicator_metrics
from .scope import MIN_OUT_OF_SCOPE, ScopeModel

log = logging.getLogger(__name__)
GATE_DEFAULT = {"supplier": True, "recruitment": False}


def _data_hash(specs: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for spec in specs:
        path = Path(spec.partition("@")[0])
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(sha256_file(f).encode())
        out.append({"spec": spec, "sha256": h.hexdigest(), "files": [f.name for f in files]})
    return out


def _analyse(engine: Engine, docs: Sequence[LabelledDoc]) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    ids = [i.id for i in engine.taxonomy.indicators]
    rules, sentences, hits = [], [], []
    for d in docs:
        evidence, sents = engine.analyse(d.text, sentences=True)
        row = rule_features(evidence, ids)
        rules.append(row)
        hits.append(row[: len(ids)])
        sentences.append([d.text[a:b] for a, b in candidate_spans(sents)])
    return np.array(rules), sentences, np.array(hits)


def train(profile: str, specs: Sequence[str], out: Path, *, engine: Engine | None = None,
          eval_specs: Sequence[str] = (), seed: int = 0, gate: bool | None = None,
          members: Sequence[str] = ("lr", "knn", "nbsvm"), progress: Callable[[str], None] = log.info) -> dict[str, Any]:
    """Train the profile's models on the train split of ``specs`` and save them in ``out``."""
    engine = engine or Engine(profile)
    every = load_specs(specs, "train")
    docs = [d for d in every if d.in_scope]
    others = [d for d in every if not d.in_scope]
    gate_on = GATE_DEFAULT.get(profile, False) if gate is None else gate
    progress(f"training {profile} on {len(docs)} documents ({sum(d.label for d in docs)} positive)")
    scope = None
    if len(others) >= MIN_OUT_OF_SCOPE and gate_on:
        progress(f"{len(others)} out-of-scope texts not used: the scope model does not combine with the indicator gate")
        others = []
    elif len(others) >= MIN_OUT_OF_SCOPE:
        scope = ScopeModel(seed=seed).fit([d.text for d in every], [d.in_scope for d in every],
                                          [d.group for d in every])
        progress(f"scope model: {scope.oof_}")
    indicator_ids = [i.id for i in engine.taxonomy.indicators]
    rules, sentences, hits = _analyse(engine, docs)
    texts = [d.text for d in docs]
    y = np.array([d.label for d in docs])
    clf = DocumentClassifier(members=members, seed=seed, rule_feature_names=rule_feature_names(indicator_ids))
    groups = [d.group for d in docs]
    clf.fit(texts, y, rules, groups=groups)
    thresholds = choose_thresholds(y, clf.oof_proba_)
    progress(f"thresholds: review {thresholds['review']}, high {thresholds['high']}")
    # Out-of-scope texts: their rule evidence, and the document model's probability (the final classifier never saw
    # them, so it is out of sample like the in-scope documents' out-of-fold scores).
    o_rules, o_sentences, o_hits = _analyse(engine, others) if others else (np.zeros((0, rules.shape[1])), [],
                                                                             np.zeros((0, hits.shape[1])))
    p_others = clf.predict_proba([d.text for d in others], o_rules)[:, 1] if others else np.zeros(0)
    annotated = [n for n, d in enumerate(docs) if d.indicators or d.label == 0]
    ind_model = None
    if any(docs[n].indicators for n in annotated):
        # Out-of-scope texts carry no indicator by definition: they are negatives for every indicator model, so
        # a price line in a classified or a change of practice time does not read as a fee or a deadline.
        ind_model = IndicatorModels(indicator_ids, seed=seed).fit(
            [texts[n] for n in annotated] + [d.text for d in others],
            [docs[n].indicators for n in annotated] + [() for _ in others],
            [sentences[n] for n in annotated] + o_sentences, np.vstack([hits[annotated], o_hits]),
            gate=np.concatenate([clf.oof_proba_[annotated], p_others]) >= thresholds["review"],
            groups=[groups[n] for n in annotated] + [d.group for d in others])
        progress(f"indicator models for {len(ind_model.labels_)} indicators ({len(others)} out-of-scope negatives)")
    # Indicator models speak where the raw document probability reaches this (the first review threshold).
    indicator_gate = thresholds["review"]
    # Out-of-fold indicator presence (rule hit or indicator-model decision), in-scope documents then others.
    has = np.asarray(hits.any(axis=1), dtype=bool)
    has_others = np.asarray(o_hits.any(axis=1), dtype=bool)
    if ind_model is not None:
        has[annotated] |= ind_model.oof_hits_[: len(annotated)].any(axis=1)
        has_others |= ind_model.oof_hits_[len(annotated):].any(axis=1)
    oof = clf.oof_proba_
    y_oof = y
    calibration = None
    if gate_on and ind_model is not None:
        calibration = GateCalibration().fit(clf.oof_proba_, has, y)
        oof = calibration.apply(clf.oof_proba_, has)
        thresholds = choose_thresholds(y, oof)
        thresholds["how"] += "; after Platt scaling per gate group (documents with / without an asserted indicator)"
        oof = np.where(has, oof, np.minimum(oof, thresholds["review"] * GATE_FACTOR))
        progress(f"gate calibration: thresholds review {thresholds['review']}, high {thresholds['high']}")
    if scope is not None:
        in_scope = np.asarray([d.in_scope for d in every])
        q = np.concatenate([scope.oof_proba_[in_scope], scope.oof_proba_[~in_scope]])
        y_oof = np.concatenate([y, np.zeros(len(others), dtype=int)])
        oof = scope.calibrate(np.concatenate([oof, p_others]), q, np.concatenate([has, has_others]), y_oof)
        thresholds = choose_thresholds(y_oof, oof)
        thresholds["how"] += ("; after the scope calibration (out-of-fold scores of in-scope documents and "
                              "out-of-scope texts)")
        progress(f"scope calibration: {scope.describe()['calibration']}; thresholds review {thresholds['review']}, "
                 f"high {thresholds['high']}")
    bundle = {"classifier": clf, "indicators": ind_model, "indicator_ids": indicator_ids, "calibration": calibration,
              "scope": scope}
    oof_flag = oof >= thresholds["review"]
    manifest: dict[str, Any] = {
        "name": f"screening-{profile}",
        "profile": profile,
        "labels": ["low", "review", "high"],
        "indicator_labels": list(ind_model.labels_) if ind_model else [],
        "thresholds": thresholds,
        "gate_on_indicators": gate_on,
        "params": {"members": list(members), "c_lr": clf.c_lr, "c_svm": clf.c_svm, "c_nbsvm": clf.c_nbsvm,
                   "folds": clf.folds, "seed": seed,
                   "indicator_gate": indicator_gate,
                   "indicator_thresholds": ind_model.thresholds_ if ind_model else {},
                   "gate_calibration": calibration.describe() if calibration else None,
                   "scope": scope.describe() if scope else None},
        "taxonomy": {"version": engine.taxonomy.version, "sha256": engine.taxonomy.sha256},
        "data": {"train": _data_hash(specs), "n_train": len(docs), "positives": int(y.sum()),
                 "n_out_of_scope": len(others)},
        "metrics": {"train_out_of_fold": {k: v for k, v in binary_metrics(y_oof, oof, oof_flag).items()
                                          if k != "reliability"},
                    "indicator_out_of_fold_f1": ind_model.oof_f1_ if ind_model else {}},
    }
    # Held-out figures: the dev and test splits of the corpora, plus any extra evaluation sets.
    from .scorer import ModelScorer

    scored_engine = Engine(profile, taxonomy=engine.taxonomy, replace_taxonomy=True)
    scored_engine.set_scorer(ModelScorer(engine.taxonomy, bundle, {**manifest, "files": {"model.joblib": "unsaved"}}))
    corpus_specs = [s for s in specs if Path(s.partition("@")[0]).is_dir()]
    held_out: dict[str, Any] = {}
    for split in ("dev", "test"):
        for spec in corpus_specs:
            held_docs = load_specs([f"{spec.partition('@')[0]}@{split}"], split)
            held_out[f"{spec.partition('@')[0]}@{split}"] = evaluate_engine(scored_engine, held_docs, worst=0)
    for spec in eval_specs:
        held_out[spec] = evaluate_engine(scored_engine, load_specs([spec], "test"), worst=0)
    manifest["metrics"]["held_out"] = held_out
    manifest["data"]["evaluation"] = _data_hash([*corpus_specs, *eval_specs])
    saved = save_artefact(out, bundle, manifest)
    (out / "MODEL_CARD.md").write_text(model_card(saved), encoding="utf-8")
    return saved


def evaluate_engine(engine: Engine, docs: Sequence[LabelledDoc], worst: int = 10) -> dict[str, Any]:
    """Screen labelled documents with ``engine`` and compute every figure of the evaluation report."""
    results: list[ScreeningResult] = [engine.screen(d.text, d.id) for d in docs]
    y = np.array([d.label for d in docs])
    scores = np.array([r.score or 0.0 for r in results])
    flagged = np.array([r.verdict in ("review", "high") for r in results])
    report: dict[str, Any] = {"binary": binary_metrics(y, scores, flagged)}
    annotated = [n for n, d in enumerate(docs) if d.indicators or d.label == 0]
    if any(docs[n].indicators for n in annotated):
        ids = [i.id for i in engine.taxonomy.indicators]
        report["indicators"] = indicator_metrics([docs[n].indicators for n in annotated],
                                                 [[i.id for i in results[n].indicators] for n in annotated], ids)
    if worst:
        order = np.argsort(-np.abs(y - scores))[:worst]
        report["worst_errors"] = [
            {"id": docs[n].id, "label": int(y[n]), "score": round(float(scores[n]), 4), "verdict": results[n].verdict,
             "evidence": [{"indicator": e.indicator, "text": e.text[:160], "assertion": e.assertion,
                           "source": e.source} for e in results[n].evidence][:8]}
            for n in order if (y[n] == 1) != bool(flagged[n])
        ]
    return report


def evaluation_markdown(title: str, report: dict[str, Any]) -> str:
    """The evaluation report as Markdown."""
    b = report["binary"]
    lines = [f"# {title}", "", "| figure | value |", "|---|---|"]
    for key in ("n", "positives", "precision", "recall", "f1", "f1_at_natural_prevalence", "roc_auc", "pr_auc",
                "brier", "ece"):
        if key in b:
            lines.append(f"| {key} | {b[key]} |")
    c = b["confusion"]
    lines += ["", "Confusion at the model's thresholds (flagged = review or high):", "",
              "| | flagged | not flagged |", "|---|---|---|",
              f"| positive | {c['tp']} | {c['fn']} |", f"| negative | {c['fp']} | {c['tn']} |", "",
              "Per class:", "", "| class | precision | recall | F1 |", "|---|---|---|---|"]
    for cls, m in b["per_class"].items():
        lines.append(f"| {cls} | {m['precision']} | {m['recall']} | {m['f1']} |")
    lines += ["", "Reliability:", "", "| bin | n | mean score | fraction positive |", "|---|---|---|---|"]
    for row in b["reliability"]:
        lines.append(f"| {row['bin']} | {row['n']} | {row['mean_score']} | {row['fraction_positive']} |")
    if "indicators" in report:
        ind = report["indicators"]
        lines += ["", f"Indicators (macro-F1 {ind['macro_f1']}):", "", "| indicator | support | precision | recall | F1 |",
                  "|---|---|---|---|---|"]
        for iid, m in ind["per_indicator"].items():
            lines.append(f"| {iid} | {m['support']} | {m['precision']} | {m['recall']} | {m['f1']} |")
    if report.get("worst_errors"):
        lines += ["", "Worst errors:", ""]
        for e in report["worst_errors"]:
            ev = "; ".join(f"{x['indicator']} ({x['assertion']}, {x['source']}): {x['text'][:80]}" for x in e["evidence"])
            lines.append(f"- {e['id']} label {e['label']} score {e['score']} ({e['verdict']}): {ev or 'no evidence'}")
    return "\n".join(lines) + "\n"


def model_card(manifest: dict[str, Any]) -> str:
    """A generated model card from the manifest."""
    m = manifest
    t = m["thresholds"]
    lines = [
        f"# Model card: {m['name']}", "",
        "Generated by `screening train` from `manifest.json`; do not edit by hand.", "",
        "## Intended use",
        f"Ranks {m['profile']} documents for human review by the probability that they carry indicators "
        "of forced labour or deceptive recruitment. A score is a prompt to read the evidence, not a finding that "
        "forced labour or trafficking took place; a person decides.", "",
        "## What the score means",
        f"A calibrated probability (Platt scaling on out-of-fold scores). Verdict `review` at score >= {t['review']}, "
        f"`high` at >= {t['high']}. {t['how']}.",
    ]
    if m.get("gate_on_indicators"):
        lines.append("A document with no asserted indicator (rule or indicator model) is capped below `review`: "
                     "policy, negation and generic-risk language does not raise risk.")
    if m.get("params", {}).get("gate_calibration"):
        lines.append("The probability is calibrated separately for documents with and without an asserted indicator "
                     "(out-of-fold scores and out-of-fold indicator decisions, folds by document group), so the "
                     "score keeps its meaning after that cap.")
    scope = m.get("params", {}).get("scope")
    if scope:
        oof = scope["out_of_fold"]
        cal = scope.get("calibration") or {}
        lines.append(f"A scope model tells the text this profile screens from other text (a greeting, office mail, a "
                     f"classified, a notice). For a document with no asserted indicator, its out-of-scope evidence "
                     f"lowers the score by a weight fitted out of fold together with the document model's scores "
                     f"(weight {cal.get('out_of_scope_log_odds', '?')} on min(logit P(in scope), 0)); where an "
                     f"indicator is asserted it has no say. Out of fold, P(in scope) < {scope['threshold']} for "
                     f"{oof['out_of_scope_held_back']:.0%} of {oof['out_of_scope']} out-of-scope texts and "
                     f"{oof['in_scope_held_back']:.1%} of {oof['in_scope']} in-scope documents.")
    lines += ["", "## Data", f"{m['data']['n_train']} training documents ({m['data']['positives']} positive):"]
    lines += [f"- `{d['spec']}` (sha256 {d['sha256'][:16]}…)" for d in m["data"]["train"]]
    lines += ["", "## Held-out metrics", "", "| data | n | F1 | ROC-AUC | PR-AUC | Brier | ECE | indicator macro-F1 |",
              "|---|---|---|---|---|---|---|---|"]
    for name, rep in m["metrics"]["held_out"].items():
        b = rep["binary"]
        macro = rep.get("indicators", {}).get("macro_f1", "")
        lines.append(f"| `{name}` | {b['n']} | {b['f1']} | {b.get('roc_auc', '')} | {b.get('pr_auc', '')} | "
                     f"{b['brier']} | {b['ece']} | {macro} |")
    lines += ["", "## Limits",
              "- Trained on the project's own written corpora (and EMSCAD for recruitment); real documents differ.",
              "- English only. Evidence from the model is a sentence or a term, weaker than a rule's exact words.",
              "- EMSCAD fraud is generic employment scams, not labour trafficking specifically.",
              "- The score does not say that an employer or supplier committed an offence.", "",
              "## Versions", f"Taxonomy {m['taxonomy']['version']}; libraries: "
              + ", ".join(f"{k} {v}" for k, v in sorted(m["libraries"].items())) + "."]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out_prefix: Path, title: str) -> tuple[Path, Path]:
    """Write the evaluation report as JSON and Markdown beside each other."""
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    js = out_prefix.with_suffix(".json")
    md = out_prefix.with_suffix(".md")
    js.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md.write_text(evaluation_markdown(title, report), encoding="utf-8")
    return js, md
