"""Check that a change leaves every screening result as it was: write a reference, then compare to it.

Screens a fixed set of texts with both profiles' default engines
(``screening.models.loading.default_engine``) and writes one canonical JSON line per (profile, text):
score and weights rounded to 1e-9, verdict, indicators, evidence with offsets. The set: every record of
``corpora/*/`` (all splits), the documents of ``corpora/examples/`` as the CLI reads them, the first
``EMSCAD_ROWS`` ads of the shared EMSCAD test file (screened only; skipped with a note when the shared
data is absent), and, with the supplier profile only, the benchmark's long documents and one
multi-chunk document (``bench/texts.py``).

    .venv/bin/python bench/identity.py --write /tmp/identity-ref.jsonl      # on the code before a change
    .venv/bin/python bench/identity.py --compare /tmp/identity-ref.jsonl    # after it: exit 1 on any change

The reference holds document text (evidence spans): keep it outside the repository.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from texts import ROOT, long_documents, sized_document  # noqa: E402

EMSCAD_ROWS = 600
EMSCAD_FIELDS = ("title", "company_profile", "description", "requirements", "benefits")
BIG_DOC_BYTES = 300_000
TOLERANCE = 1e-9


def _corpus_texts() -> Iterator[tuple[str, str]]:
    for path in sorted((ROOT / "corpora").glob("*/*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                yield f"{path.relative_to(ROOT)}:{n}", json.loads(line)["text"]


def _example_texts() -> Iterator[tuple[str, str]]:
    from screening.ingest import TableOptions, read_path

    folder = ROOT / "corpora" / "examples"
    for doc in read_path(folder, TableOptions(), root=folder):
        if doc.error is None:
            yield f"examples/{doc.id}", doc.text


def _emscad_texts() -> Iterator[tuple[str, str]]:
    from screening.settings import get_settings

    path = get_settings().shared_data / "emscad" / "test.csv"
    if not path.is_file():
        print(f"note: {path} not found; EMSCAD ads left out", file=sys.stderr)
        return
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if n >= EMSCAD_ROWS:
                break
            text = "\n\n".join(row[c].strip() for c in EMSCAD_FIELDS if row[c].strip())
            yield f"emscad:{row['ad_id']}", text


def texts_for(profile: str) -> list[tuple[str, str]]:
    """The fixed ``(key, text)`` set screened with ``profile``."""
    out = [*_corpus_texts(), *_example_texts(), *_emscad_texts()]
    if profile == "supplier":
        out += [(f"long:{n}", t) for n, t in enumerate(long_documents())]
        out.append((f"sized:{BIG_DOC_BYTES}", sized_document(BIG_DOC_BYTES)))
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 9)


def canonical(result: Any) -> dict[str, Any]:
    """The result's fields that must not change, floats rounded to 1e-9."""
    return {
        "score": _r(result.score),
        "verdict": result.verdict,
        "model": result.engine.model,
        "indicators": [[i.id, i.name, _r(i.score), i.evidence] for i in result.indicators],
        "evidence": [[e.indicator, e.rule, e.start, e.end, e.text, e.assertion, e.source, _r(e.weight), e.cue]
                     for e in result.evidence],
    }


def run() -> Iterator[dict[str, Any]]:
    """Screen the set with both default engines, yielding one canonical record per text."""
    from screening.models.loading import default_engine

    for profile in ("supplier", "recruitment"):
        engine = default_engine(profile)
        items = texts_for(profile)
        start = time.perf_counter()
        for key, text in items:
            yield {"profile": profile, "key": key, **canonical(engine.screen(text))}
        print(f"{profile}: {len(items)} texts in {time.perf_counter() - start:.1f} s", file=sys.stderr)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=0.0, abs_tol=TOLERANCE)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    return bool(a == b)


def main() -> int:
    """Write or compare; the exit code is the number of differing records (capped at 1)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write the reference here")
    group.add_argument("--compare", type=Path, help="compare with this reference")
    args = ap.parse_args()
    if args.write:
        with args.write.open("w", encoding="utf-8") as f:
            for rec in run():
                f.write(json.dumps(rec, sort_keys=True, ensure_ascii=False) + "\n")
        return 0
    ref = [json.loads(line) for line in args.compare.read_text(encoding="utf-8").splitlines()]
    got = list(run())
    differ = [(a, b) for a, b in zip(ref, got, strict=False) if not _close(a, b)]
    if len(ref) != len(got):
        print(f"record count differs: reference {len(ref)}, now {len(got)}")
    for a, b in differ[:10]:
        print(f"differs: {a['profile']} {a['key']}")
        for k in a:
            if not _close(a[k], b.get(k)):
                print(f"  {k}: reference {json.dumps(a[k])[:300]}\n  {k}: now       {json.dumps(b.get(k))[:300]}")
    print(f"{len(got)} records compared, {len(differ)} differ")
    return int(bool(differ) or len(ref) != len(got))


if __name__ == "__main__":
    sys.exit(main())
