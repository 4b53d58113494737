"""Describe the project's corpora: size, labels, fixed splits, length and the share of distinct word 3-grams.

Usage: python bench/corpus_stats.py corpora/supplier corpora/recruitment
A template-filled corpus repeats its 3-grams; a share of distinct 3-grams near 1 means varied text.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

from screening.models.data import load_spec

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")


def describe(folder: str) -> str:
    docs = load_spec(f"{folder}@all", None)
    grams: Counter[tuple[str, ...]] = Counter()
    lengths = []
    for d in docs:
        words = WORD.findall(d.text.lower())
        lengths.append(len(words))
        grams.update(zip(words, words[1:], words[2:], strict=False))
    total = sum(grams.values())
    splits = Counter(d.split for d in docs)
    labels = Counter(i for d in docs for i in d.indicators)
    lengths.sort()
    lines = [f"## {folder}", "",
             f"- documents: {len(docs)} ({sum(d.label for d in docs)} positive, "
             f"{sum(1 - d.label for d in docs)} negative)",
             "- splits (by group): " + ", ".join(f"{s} {splits[s]}" for s in ("train", "dev", "test")),
             f"- groups: {len({d.group for d in docs})}",
             f"- words per document: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}",
             f"- distinct word 3-grams: {len(grams)} of {total} = {len(grams) / total:.3f}",
             "- documents per indicator: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["corpora/supplier", "corpora/recruitment"]:
        print(describe(arg))
