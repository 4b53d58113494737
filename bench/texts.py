"""Benchmark inputs built deterministically from the project's corpora (no text is invented here).

- short ads: recruitment records (``corpora/recruitment``) and the demo ads (``corpora/examples``), the
  records of one ``group`` joined with blank lines until an ad holds at least ``SHORT_WORDS`` words;
- long documents: supplier passages (``corpora/supplier``) in a seeded shuffle, joined with blank lines
  until a document holds at least ``LONG_WORDS`` words;
- scaling documents: supplier passages (seeded shuffle, repeated) until the UTF-8 size reaches a target.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORD = re.compile(r"\S+")
SHORT_WORDS = 90
SHORT_MAX_WORDS = 150
LONG_WORDS = 5_000
LONG_DOCS = 12
SEED = 7


@dataclass(frozen=True)
class Record:
    """One corpus record (read here without importing ``screening``, so reference points stay bare)."""

    text: str
    label: int
    group: str
    split: str


def split_of(group: str) -> str:
    """The record's fixed split, by the rule of ``screening.models.data.split_of``."""
    bucket = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % 20
    return "train" if bucket < 14 else "dev" if bucket < 17 else "test"


def corpus(name: str) -> list[Record]:
    """All records of ``corpora/<name>``, files in name order, as the project's loader reads them."""
    out = []
    for path in sorted((ROOT / "corpora" / name).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                group = str(row.get("group") or row.get("id") or f"{path.stem}:{n}")
                label = int(row["label"]) if row.get("label") not in (None, "") else int(bool(row.get("labels")))
                out.append(Record(row["text"], label, group, split_of(group)))
    return out


def words(text: str) -> int:
    """Whitespace-separated words, the unit of every words/s figure."""
    return len(WORD.findall(text))


def _example_ads() -> list[str]:
    path = ROOT / "corpora" / "examples" / "recruitment" / "job-ads.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return [f"{r['title']}\n\n{r['description']}" for r in csv.DictReader(f)]


def short_ads() -> list[str]:
    """Ads of roughly 100 words (90 to 150, whole records only; longer joins are left out)."""
    groups: dict[str, list[str]] = {}
    for doc in corpus("recruitment"):
        groups.setdefault(doc.group, []).append(doc.text)
    groups["examples"] = _example_ads()
    ads: list[str] = []
    for texts in groups.values():
        current: list[str] = []
        for t in texts:
            current.append(t)
            n = words("\n\n".join(current))
            if n >= SHORT_WORDS:
                if n <= SHORT_MAX_WORDS:
                    ads.append("\n\n".join(current))
                current = []
    random.Random(SEED).shuffle(ads)  # deceptive and legitimate ads mixed, so any prefix is representative
    return ads


def _supplier_passages() -> list[str]:
    return [d.text for d in corpus("supplier")]


def _passage_stream(seed: int) -> Iterator[str]:
    passages = _supplier_passages()
    rng = random.Random(seed)
    while True:
        order = passages[:]
        rng.shuffle(order)
        yield from order


def long_documents(n: int = LONG_DOCS) -> list[str]:
    """``n`` supplier documents of at least ``LONG_WORDS`` words each."""
    stream = _passage_stream(SEED)
    docs = []
    for _ in range(n):
        parts: list[str] = []
        count = 0
        while count < LONG_WORDS:
            p = next(stream)
            parts.append(p)
            count += words(p)
        docs.append("\n\n".join(parts))
    return docs


def sized_document(size_bytes: int) -> str:
    """One supplier document of ``size_bytes`` UTF-8 bytes (the last passage is cut at a space)."""
    stream = _passage_stream(SEED + 1)
    parts: list[str] = []
    total = 0
    while total < size_bytes:
        p = next(stream)
        parts.append(p)
        total += len(p.encode("utf-8")) + 2
    text = "\n\n".join(parts)
    data = text.encode("utf-8")[:size_bytes].decode("utf-8", errors="ignore")
    cut = data.rfind(" ")
    return data[:cut] if cut > size_bytes // 2 else data


def describe(texts: list[str]) -> dict[str, float]:
    """Count, words (mean, min, max) and characters of a text set, for the README's size statements."""
    w = [words(t) for t in texts]
    return {"docs": len(texts), "words_mean": round(sum(w) / len(w), 1), "words_min": min(w), "words_max": max(w),
            "words_total": sum(w), "chars_total": sum(len(t) for t in texts)}
