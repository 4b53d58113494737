"""EMSCAD test split: the product's recruitment model against a plain TF-IDF + logistic regression
baseline, trained and measured in the same run.

Baseline: word 1-2 + char_wb 3-5 TF-IDF, scikit-learn's default LogisticRegression (C=1), fitted on
EMSCAD train only; its threshold is chosen like the product's (F1-maximising on out-of-fold train
scores). Neither model sees the test split before measurement.

Usage: python bench/emscad_compare.py [--data ../shared/data/emscad] [--out bench/results/emscad.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline, make_union

from screening.models.data import load_emscad
from screening.models.loading import default_engine
from screening.models.metrics import binary_metrics, choose_thresholds


def baseline() -> object:
    return make_pipeline(
        make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                   TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)),
        LogisticRegression(max_iter=3000, solver="liblinear"),
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/emscad")
    ap.add_argument("--out", default="bench/results/emscad.md")
    args = ap.parse_args()
    data = Path(args.data)
    if not (data / "train.csv").is_file():
        print(f"EMSCAD not found in {data}; nothing to compare", file=sys.stderr)
        return 0
    train, test = load_emscad(data / "train.csv"), load_emscad(data / "test.csv")
    xtr, ytr = [d.text for d in train], np.array([d.label for d in train])
    xte, yte = [d.text for d in test], np.array([d.label for d in test])

    base = baseline()
    oof = cross_val_predict(base, xtr, ytr, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                            method="predict_proba")[:, 1]
    t = choose_thresholds(ytr, oof)["review"]
    p_base = base.fit(xtr, ytr).predict_proba(xte)[:, 1]
    rows = {"baseline: TF-IDF word+char, LogisticRegression": binary_metrics(yte, p_base, p_base >= t)}

    engine = default_engine("recruitment")
    results = [engine.screen(x) for x in xte]
    p = np.array([r.score or 0.0 for r in results])
    flagged = np.array([r.verdict in ("review", "high") for r in results])
    with_evidence = sum(bool(r.evidence) for r in results if r.verdict != "low")
    rows[f"screening ({engine.info.model})"] = binary_metrics(yte, p, flagged)

    lines = ["# EMSCAD test split: product vs baseline", "",
             f"{len(test)} ads ({int(yte.sum())} fraudulent). Command: `python bench/emscad_compare.py`.", "",
             "| model | F1 | F1 at 4.8% prevalence | precision | recall | ROC-AUC | PR-AUC | Brier | ECE |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['f1']} | {m['f1_at_natural_prevalence']} | {m['precision']} | {m['recall']} | "
                     f"{m['roc_auc']} | {m['pr_auc']} | {m['brier']} | {m['ece']} |")
    flagged_n = int(flagged.sum())
    lines += ["", f"Flagged ads with evidence spans (product): {with_evidence} of {flagged_n}; the baseline gives none."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
