"""Fit, save and load the transformer backend's models: the semantic matcher and the embedding classifier.

Training reads the train split of the profile's corpus (prototypes, classifier) and its dev split
(matcher thresholds, figures in the manifest); extra labelled sets such as EMSCAD's train file feed
the classifier only. The test split is never read. The artefact is an ordinary
:mod:`screening.models.artefacts` folder (``model.joblib`` + ``manifest.json`` with sha256 + model
card); its manifest also records the encoder's file hashes, and loading refuses another encoder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import Engine
from ..errors import ModelError
from ..models.artefacts import load_artefact, save_artefact
from ..models.data import LabelledDoc, load_spec, load_specs
from ..models.features import rule_features
from ..models.metrics import binary_metrics, choose_thresholds, indicator_metrics
from ..models.train import GATE_DEFAULT, _data_hash
from ..results import Evidence
from ..sentences import Sentence
from ..settings import PROJECT_ROOT
from .classifier import EmbeddingClassifier
from .encoder import SentenceEncoder
from .featurize import DocView, best_asserted, feature_names, feature_row, views_of
from .matcher import EmbeddedPassage, SemanticMatcher
from .tagger import (
    LEXICAL_KEY,
    LEXICAL_WEIGHT,
    MATCHER_MARGIN,
    RULE_SUPPORT,
    TAGGER_FILE,
    WHOLE_WEIGHT,
    IndicatorTagger,
    choose_tagger_thresholds,
    fit_lexical,
    fit_tagger,
    load_tagger,
)

log = logging.getLogger(__name__)
BACKEND = "transformer"
# Sentences encoded per document at most: rule-bearing sentences first, then in document order.
MAX_SENTENCES = 64


def select_sentences(sentences: Sequence[Sentence], evidence: Sequence[Evidence], limit: int | None,
                     priority: Sequence[float] | None = None) -> list[Sentence]:
    """At most ``limit`` sentences, in document order: those holding rule evidence, then ``priority``."""
    if limit is None or len(sentences) <= limit:
        return list(sentences)
    rank = np.zeros(len(sentences))
    starts = [s.start for s in sentences]
    for e in evidence:
        if e.source != "rule":
            continue
        n = int(np.searchsorted(starts, e.start, side="right")) - 1
        if 0 <= n < len(sentences) and e.start < sentences[n].end:
            rank[n] = max(rank[n], 2.0 if e.assertion == "asserted" else 1.0)
    if priority is not None:
        rank = rank + np.clip(np.asarray(priority, dtype=float), 0.0, 0.999)
    keep = sorted(np.argsort(-rank, kind="stable")[:limit].tolist())
    return [sentences[n] for n in keep]


def default_corpus(profile: str) -> Path:
    """The profile's corpus folder in the project checkout."""
    return PROJECT_ROOT / "corpora" / profile


def _analyse(engine: Engine, docs: Sequence[LabelledDoc], limit: int | None
             ) -> tuple[list[tuple[Evidence, ...]], list[list[Sentence]]]:
    evidence, sentences = [], []
    for d in docs:
        ev, sents = engine.analyse(d.text, sentences=True)
        evidence.append(ev)
        sentences.append(select_sentences(sents, ev, limit))
    return evidence, sentences


def _passage(view: DocView, doc: LabelledDoc) -> EmbeddedPassage:
    idx = view.asserted
    return EmbeddedPassage(tuple(view.texts[n] for n in idx), view.embeddings[idx], frozenset(doc.indicators),
                           doc.group, bool(doc.indicators) or doc.label == 0)


def _seeds(engine: Engine, encoder: SentenceEncoder) -> dict[str, tuple[Sequence[str], np.ndarray]]:
    return {ind.id: (ind.positives, encoder.encode(ind.positives)) for ind in engine.taxonomy.indicators
            if ind.positives}


def document_rows(matcher: SemanticMatcher, views: Sequence[DocView], evidence: Sequence[Sequence[Evidence]],
                  indicator_ids: Sequence[str], dim: int, groups: Sequence[str | None] | None = None) -> np.ndarray:
    """Feature rows of documents; ``groups`` scores training documents without their own prototypes."""
    rows = []
    for n, (view, ev) in enumerate(zip(views, evidence, strict=True)):
        group = groups[n] if groups is not None else None
        scores = (matcher.scores(view.embeddings, group) if len(view.embeddings)
                  else np.zeros((0, len(indicator_ids))))
        rows.append(feature_row(view, best_asserted(view, scores), rule_features(ev, indicator_ids), dim))
    return np.array(rows)


def _shown(path: Path) -> str:
    """``path`` as the manifest records it: relative to the project root when inside it (no home folders)."""
    from ..settings import PROJECT_ROOT

    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def fit_transformer(engine: Engine, encoder: SentenceEncoder, *, corpus: str | Path | None = None,
                    extra: Sequence[str] = (), seed: int = 0, c: float = 3.0, c_embedding: float = 0.1, k: int = 30,
                    temperature: float = 0.1, max_sentences: int | None = MAX_SENTENCES,
                    extra_max_sentences: int | None = 16, beta: float = 1.5, tagger_epochs: int = 0,
                    tagger_lr: float = 1e-4, progress: Callable[[str], None] = log.info
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit the matcher and the classifier of ``engine``'s profile; returns ``(bundle, manifest)`` unsaved.

    ``extra`` data specs (EMSCAD-style sets without indicator labels) feed the classifier only, each
    document encoded by at most ``extra_max_sentences`` sentences (rule-bearing first) to bound cost.
    ``tagger_epochs`` > 0 also fine-tunes the indicator tagger (:mod:`.tagger`) on the train split's
    passages and chooses its thresholds on the dev split.
    """
    profile = engine.profile
    folder = Path(corpus) if corpus is not None else default_corpus(profile)
    if not folder.is_dir():
        raise ModelError(f"{folder}: no corpus to fit the transformer backend on; pass a trained model folder "
                         "(model_dir) or a corpus folder", code="model_missing")
    ids = [i.id for i in engine.taxonomy.indicators]
    # Out-of-scope corpus texts (kind "other") train the fast path's scope model only.
    train_docs = [d for d in load_spec(str(folder), "train") if d.in_scope]
    dev_docs = [d for d in load_spec(f"{folder}@dev", "dev") if d.in_scope]
    extra_docs = load_specs(extra, "train") if extra else []
    docs = train_docs + dev_docs + extra_docs
    progress(f"encoding {len(docs)} documents for the {profile} transformer backend with {encoder.info.name}")
    evidence, sentences = _analyse(engine, train_docs + dev_docs, max_sentences)
    extra_evidence, extra_sentences = _analyse(engine, extra_docs, extra_max_sentences)
    evidence += extra_evidence
    sentences += extra_sentences
    views = views_of(encoder, [d.text for d in docs], sentences)
    n_train, n_dev = len(train_docs), len(dev_docs)
    passages = [_passage(v, d) for v, d in zip(views, docs, strict=True)]
    matcher = SemanticMatcher(ids, k=k, temperature=temperature, beta=beta).fit(_seeds(engine, encoder), passages[:n_train],
                                                          passages[n_train : n_train + n_dev])
    progress(f"semantic matcher: {len(matcher.prototype_texts_)} prototypes, thresholds "
             + ", ".join(f"{k} {v:.2f}" for k, v in matcher.thresholds_.items()))
    fit_idx = list(range(n_train)) + list(range(n_train + n_dev, len(docs)))
    groups = [docs[n].group if n < n_train else None for n in fit_idx]
    x = document_rows(matcher, [views[n] for n in fit_idx], [evidence[n] for n in fit_idx], ids, encoder.dim, groups)
    y = np.array([docs[n].label for n in fit_idx])
    clf = EmbeddingClassifier(encoder.dim, c_embedding=c_embedding, c=c, seed=seed,
                              feature_names=feature_names(ids, encoder.dim)).fit(x, y)
    thresholds = choose_thresholds(y, clf.oof_proba_)
    gate = GATE_DEFAULT.get(profile, False)
    bundle = {"matcher": matcher, "classifier": clf, "indicator_ids": ids}
    manifest: dict[str, Any] = {
        "name": f"screening-{profile}-transformer",
        "backend": BACKEND,
        "profile": profile,
        "labels": ["low", "review", "high"],
        "thresholds": thresholds,
        "gate_on_indicators": gate,
        "encoder": encoder.info.to_dict(),
        "params": {"c": c, "c_embedding": c_embedding, "k": k, "temperature": temperature, "beta": beta, "seed": seed,
                   "max_sentences": max_sentences,
                   "extra_max_sentences": extra_max_sentences,
                   "semantic_thresholds": matcher.thresholds_},
        "taxonomy": {"version": engine.taxonomy.version, "sha256": engine.taxonomy.sha256},
        "data": {"train": [{**d, "spec": _shown(Path(d["spec"]))} for d in _data_hash([str(folder), *extra])],
                 "n_train": len(fit_idx), "positives": int(y.sum()),
                 "calibration": f"{_shown(folder)}@train (leave-group-out) + {_shown(folder)}@dev"},
        "metrics": {"train_out_of_fold": {k: v for k, v in binary_metrics(y, clf.oof_proba_,
                                                                           clf.oof_proba_ >= thresholds["review"]).items()
                                          if k != "reliability"},
                    "semantic_calibration": matcher.calibration_},
    }
    dev_x = document_rows(matcher, views[n_train : n_train + n_dev], evidence[n_train : n_train + n_dev], ids,
                          encoder.dim)
    dev_y = np.array([d.label for d in dev_docs])
    dev_p = clf.predict_proba(dev_x)[:, 1]
    manifest["metrics"]["dev"] = {k: v for k, v in binary_metrics(dev_y, dev_p, dev_p >= thresholds["review"]).items()
                                  if k != "reliability"}
    if tagger_epochs:
        progress(f"fine-tuning the indicator tagger on {n_train} passages for {tagger_epochs} epochs")
        tagger = fit_tagger(encoder.info.path, [d.text for d in train_docs], [d.indicators for d in train_docs], ids,
                            epochs=tagger_epochs, lr=tagger_lr, seed=seed, progress=progress)
        tagger.lexical = fit_lexical([d.text for d in train_docs], [d.indicators for d in train_docs], ids, seed=seed)
        tagger.lexical_weight = LEXICAL_WEIGHT
        tagger.whole_weight = WHOLE_WEIGHT
        tagger.rule_support = RULE_SUPPORT
        tagger.matcher_margin = MATCHER_MARGIN
        dev_rules = [sorted({e.indicator for e in ev if e.source == "rule" and e.assertion == "asserted"} & set(ids))
                     for ev in evidence[n_train : n_train + n_dev]]
        manifest["metrics"]["tagger_dev"] = tune_tagger(tagger, dev_docs, sentences[n_train : n_train + n_dev],
                                                        dev_rules)
        bundle["tagger"] = tagger
    return bundle, manifest


def tune_tagger(tagger: IndicatorTagger, docs: Sequence[LabelledDoc], sentences: Sequence[Sequence[Sentence]],
                rules: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Choose the tagger's thresholds on held-out documents; returns its indicator metrics there (in sample).

    ``rules``: each document's asserted rule indicators. With them, thresholds are chosen for, and the
    metrics measure, what the backend raises: the tagger's indicators and the rule hits it supports
    (``tagger.rule_support``).
    """
    ids = tagger.indicator_ids
    best, span_probs, spans = tagger.document_proba([d.text for d in docs], sentences)
    read = [bool(len(s)) for s in spans]
    tagger.thresholds = choose_tagger_thresholds(best, [d.indicators for d in docs], ids, rules=rules, read=read,
                                                 rule_support=tagger.rule_support)
    predicted = []
    for n, d in enumerate(docs):
        found = {e.indicator for e in tagger.evidence(d.text, best[n], span_probs[n], spans[n])}
        if rules is not None:
            found |= {i for i in rules[n] if tagger.supports(i, best[n] if read[n] else None)}
        predicted.append(sorted(found))
    return indicator_metrics([list(d.indicators) for d in docs], predicted, ids)


def save_transformer(directory: str | Path, bundle: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the artefact folder (model, manifest with hashes, model card); returns the saved manifest."""
    out = Path(directory)
    bundle = dict(bundle)
    tagger: IndicatorTagger | None = bundle.pop("tagger", None)
    extra: dict[str, bytes] = {}
    if tagger is not None:
        manifest = {**manifest, "tagger": tagger.spec()}
        extra[TAGGER_FILE] = tagger.to_bytes()
        if tagger.lexical is not None:
            bundle[LEXICAL_KEY] = tagger.lexical  # scikit-learn objects: in the verified model.joblib
    saved = save_artefact(out, bundle, manifest, extra)
    (out / "MODEL_CARD.md").write_text(model_card(saved), encoding="utf-8")
    return saved


def load_transformer(directory: str | Path, encoder: SentenceEncoder) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify (file hashes, library versions, encoder fingerprint), then load a transformer artefact."""
    folder = Path(directory)
    bundle, manifest = load_artefact(folder)
    if manifest.get("backend") != BACKEND:
        raise ModelError(f"{folder}: not a transformer-backend model (backend {manifest.get('backend')!r})",
                         code="model_invalid")
    want = (manifest.get("encoder") or {}).get("fingerprint")
    if want != encoder.fingerprint:
        raise ModelError(f"{folder}: built on encoder {manifest.get('encoder', {}).get('name')!r} "
                         f"(fingerprint {str(want)[:12]}…), but the loaded encoder {encoder.info.name!r} has "
                         f"{encoder.fingerprint[:12]}…; its embeddings would not match", code="model_incompatible")
    spec = manifest.get("tagger")
    if spec:
        name = str(spec.get("file", TAGGER_FILE))
        if name not in manifest["files"]:
            raise ModelError(f"{folder}: the manifest describes a tagger but does not list {name}", code="model_invalid")
        bundle["tagger"] = load_tagger((folder / name).read_bytes(), spec, encoder.info.path,
                                       expected_sha256=manifest["files"][name], threads=encoder.threads,
                                       bf16=encoder.info.precision == "bf16", lexical=bundle.pop(LEXICAL_KEY, None))
    return bundle, manifest


def _tagger_card(m: dict[str, Any]) -> list[str]:
    t = m["tagger"]
    dev = m["metrics"].get("tagger_dev", {})
    return [
        "## Indicator tagger",
        f"The encoder fine-tuned as a multi-label tagger over {len(t['indicator_ids'])} indicators "
        f"({t['params'].get('epochs')} epochs on {t['params'].get('n_train')} train-split passages, "
        f"seed {t['params'].get('seed')}); weights in `{t['file']}` (fp16, sha256 in the manifest). Its evidence "
        "(rule `tagger/<ID>`) is the asserted sentence or pair it rates highest. Thresholds chosen on the dev "
        f"split, where its indicator macro-F1 is {dev.get('macro_f1')} (in sample for the thresholds"
        f"{'; the tagger with the rule hits it supports' if t.get('rule_support') else ''}).",
        *([f"Each score is blended with a TF-IDF word model's (weight {t['lexical_weight']}), fitted on the same "
           "passages and kept in `model.joblib`."] if t.get("lexical_weight") else []),
        *([f"A document that fits in one window scores {t['whole_weight']} x its whole-text score + "
           f"{round(1 - t['whole_weight'], 2)} x its best sentence or pair's."] if t.get("whole_weight") else []),
        *([f"An asserted rule hit counts toward its indicator only where the tagger's document score reaches "
           f"{t['rule_support']} x the indicator's threshold; below that it is shown as `unsupported` and not "
           "counted."] if t.get("rule_support") else []), "",
    ]


def model_card(manifest: dict[str, Any]) -> str:
    """A short generated model card."""
    m = manifest
    t = m["thresholds"]
    dev = m["metrics"]["dev"]
    lines = [
        f"# Model card: {m['name']}", "",
        "Generated by `screening.transformer.train`; do not edit by hand.", "",
        "## What it is",
        f"Transformer backend of the {m['profile']} profile: a semantic indicator matcher (sentence embeddings "
        f"from `{m['encoder']['name']}` compared with per-indicator prototypes) and a logistic regression on "
        "document embeddings, matcher scores and rule features. A score is a prompt to read the evidence, "
        "not a finding; a person decides.", "",
        "## What the score means",
        f"Out-of-fold probability on the training data. Verdict `review` at >= {t['review']}, `high` at >= {t['high']}.",
        "", "## Data",
        f"{m['data']['n_train']} training documents ({m['data']['positives']} positive); matcher thresholds "
        f"calibrated on {m['data']['calibration']}. Test splits are not read.", "",
        "## Dev split",
        f"n {dev['n']}, F1 {dev['f1']}, ROC-AUC {dev.get('roc_auc')}, ECE {dev['ece']}.", "",
        *(_tagger_card(m) if m.get("tagger") else []),
        "## Encoder",
        f"`{m['encoder']['name']}`, fingerprint {m['encoder']['fingerprint'][:16]}…; loading refuses other weights.",
        "", "## Versions",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in sorted(m["libraries"].items())) + ".",
    ]
    return "\n".join(lines) + "\n"
