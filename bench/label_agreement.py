"""How reliable are the supplier corpus labels? Agreement of two blind re-annotations with them.

``corpora/supplier/reliability/annotations.jsonl`` holds, for passages of the corpus's dev and test
splits, the indicators two annotators gave each passage without seeing the corpus labels, following
``corpora/supplier/reliability/GUIDE.md``. This prints macro-F1 (FL01..FL11) of each annotator against
the corpus labels and against each other, per split, and per indicator; optionally the same for the
shipped model's indicators (``--model``), so the model's figure can be read against the annotators'.

    python bench/label_agreement.py [--model]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screening.models.data import load_specs  # noqa: E402
from screening.models.metrics import indicator_metrics  # noqa: E402

CORPUS = ROOT / "corpora" / "supplier"
ANNOTATIONS = CORPUS / "reliability" / "annotations.jsonl"
IDS = [f"FL{i:02d}" for i in range(1, 12)]


def macro(gold: dict[str, list[str]], other: dict[str, list[str]], keys: list[str]) -> float:
    return float(indicator_metrics([gold[k] for k in keys], [other[k] for k in keys], IDS)["macro_f1"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="store_true", help="also score the shipped supplier model's indicators")
    args = ap.parse_args()
    rows = [json.loads(line) for line in ANNOTATIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    a = {r["id"]: r["annotator_a"] for r in rows}
    b = {r["id"]: r["annotator_b"] for r in rows}
    docs = {d.id: d for split in ("dev", "test") for d in load_specs([str(CORPUS)], split)}
    missing = sorted(set(a) - set(docs))
    if missing:
        print(f"{len(missing)} annotated ids are not in the corpus's dev/test splits, e.g. {missing[:3]}", file=sys.stderr)
        return 1
    gold = {k: list(docs[k].indicators) for k in a}
    sets = {"corpus labels": gold}
    if args.model:
        from screening.engine import get_engine

        engine = get_engine("supplier")
        sets["model"] = {k: sorted({i.id for i in engine.screen(docs[k].text, k).indicators}) for k in a}
    print("| split | n | A vs corpus | B vs corpus | A vs B |" + (" model vs corpus |" if args.model else ""))
    print("|---|---:|---:|---:|---:|" + ("---:|" if args.model else ""))
    for split in ("dev", "test", None):
        keys = sorted(k for k in a if split is None or docs[k].split == split)
        cells = [macro(gold, a, keys), macro(gold, b, keys), macro(a, b, keys)]
        if args.model:
            cells.append(macro(gold, sets["model"], keys))
        print(f"| {split or 'both'} | {len(keys)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    keys = sorted(a)
    per = {name: indicator_metrics([gold[k] for k in keys], [lab[k] for k in keys], IDS)["per_indicator"]
           for name, lab in (("A", a), ("B", b), *((("model", sets["model"]),) if args.model else ()))}
    print("\n| indicator | " + " | ".join(f"{n} vs corpus F1" for n in per) + " |")
    print("|---|" + "---:|" * len(per))
    for iid in IDS:
        print(f"| {iid} | " + " | ".join(f"{per[n][iid]['f1']:.3f}" for n in per) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
