"""Labelled data for training and evaluation: the project's corpora, EMSCAD exports and users' files.

Every loader returns :class:`LabelledDoc` records. A data spec is a path with an optional split
selector: ``corpora/recruitment`` (the corpus, split chosen by the command), ``corpora/supplier@dev``,
``../shared/data/emscad/train.csv`` (a file without a split: all rows), or a user's CSV/JSONL with a
text column and either a binary label column or one 0/1 column per indicator.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ScreeningError
from ..ingest import AD_COLUMNS

SPLITS = ("train", "dev", "test")
# Corpus records of this kind are text the profile does not screen (not a job ad, not a supplier document).
OUT_OF_SCOPE_KIND = "other"


class DataError(ScreeningError):
    """Labelled data is missing or malformed."""

    code = "data_invalid"


@dataclass(frozen=True)
class LabelledDoc:
    """One labelled document: binary label, indicator ids, and the group that fixes its split."""

    id: str
    text: str
    label: int
    indicators: tuple[str, ...]
    group: str
    split: str | None
    source: str
    # False for text the profile does not screen at all (corpus records of kind "other": greetings, office
    # mail, notices): they train the scope model, never the risk models.
    in_scope: bool = True


def split_of(group: str) -> str:
    """The fixed split of a group: 70% train, 15% dev, 15% test by a hash of the group name."""
    bucket = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % 20
    return "train" if bucket < 14 else "dev" if bucket < 17 else "test"


def _label_of(row: dict[str, Any], where: str) -> tuple[int, tuple[str, ...]]:
    indicators = tuple(row.get("labels") or row.get("indicators") or ())
    if "label" in row and row["label"] not in (None, ""):
        try:
            label = int(row["label"])
        except (TypeError, ValueError):
            raise DataError(f"{where}: label must be 0 or 1, got {row['label']!r}") from None
    else:
        label = int(bool(indicators))
    if label not in (0, 1):
        raise DataError(f"{where}: label must be 0 or 1, got {label}")
    return label, indicators


def load_corpus_file(path: Path) -> list[LabelledDoc]:
    """A project corpus JSONL file: every record has id, text, labels (and label), group."""
    docs = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: invalid JSON: {exc.msg}") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                raise DataError(f"{where}: a record needs a non-empty 'text'")
            label, indicators = _label_of(row, where)
            group = str(row.get("group") or row.get("id") or f"{path.stem}:{n}")
            in_scope = row.get("kind") != OUT_OF_SCOPE_KIND
            if not in_scope and (label or indicators):
                raise DataError(f"{where}: a record of kind {OUT_OF_SCOPE_KIND!r} is out of scope and cannot be labelled")
            docs.append(LabelledDoc(str(row.get("id", f"{path.stem}:{n}")), row["text"], label, indicators, group,
                                    split_of(group), str(path), in_scope))
    return docs


def load_emscad(path: Path) -> list[LabelledDoc]:
    """An EMSCAD-schema CSV: the ad is title, company profile, description, requirements, benefits."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    docs = []
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f), 1):
            text = "\n\n".join(row[c].strip() for c in AD_COLUMNS if (row.get(c) or "").strip())
            if not text:
                continue
            doc_id = row.get("ad_id") or f"{path.stem}:{n}"
            label = int(row["fraudulent"])
            docs.append(LabelledDoc(doc_id, text, label, (), doc_id, None, str(path)))
    return docs


def load_table(path: Path, text_fields: Sequence[str] = ("text",), label_field: str = "label",
               indicator_prefix: str | None = None, id_field: str = "id") -> list[LabelledDoc]:
    """A user's CSV or JSONL: text column(s), and a binary label column or 0/1 indicator columns."""
    rows: Iterable[dict[str, Any]]
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    else:
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    docs = []
    for n, row in enumerate(rows, 1):
        where = f"{path} row {n}"
        missing = [f for f in text_fields if f not in row]
        if missing:
            raise DataError(f"{where}: no text field {missing[0]!r}")
        text = "\n\n".join(str(row[f]).strip() for f in text_fields if str(row[f] or "").strip())
        if not text:
            continue
        indicators: tuple[str, ...] = ()
        if indicator_prefix:
            indicators = tuple(k for k, v in row.items() if k.startswith(indicator_prefix) and str(v) in ("1", "true"))
        if label_field in row:
            label, _ = _label_of({"label": row[label_field]}, where)
        elif indicator_prefix:
            label = int(bool(indicators))
        else:
            raise DataError(f"{where}: no label column {label_field!r}")
        doc_id = str(row.get(id_field) or f"{path.stem}:{n}")
        docs.append(LabelledDoc(doc_id, text, label, indicators, doc_id, None, str(path)))
    return docs


def load_spec(spec: str, default_split: str | None) -> list[LabelledDoc]:
    """Load a data spec ``PATH[@split]``; corpora folders are filtered to the split."""
    path_s, _, split = spec.partition("@")
    split = split or (default_split or "")
    if split and split not in (*SPLITS, "all"):
        raise DataError(f"{spec}: unknown split {split!r}; use one of {', '.join(SPLITS)} or all")
    path = Path(path_s)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DataError(f"{path}: no *.jsonl corpus files")
        docs = [d for f in files for d in load_corpus_file(f)]
    elif path.suffix.lower() == ".csv":
        header = path.open(encoding="utf-8").readline()
        docs = load_emscad(path) if "fraudulent" in header and "description" in header else load_table(path)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        docs = load_corpus_file(path)
    else:
        raise DataError(f"{path}: expected a corpus folder, a .jsonl or a .csv file")
    if split and split != "all":
        docs = [d for d in docs if d.split is None or d.split == split]
    if not docs:
        raise DataError(f"{spec}: no labelled documents")
    return docs


def load_specs(specs: Sequence[str], default_split: str | None) -> list[LabelledDoc]:
    """Load several specs, in order."""
    return [d for s in specs for d in load_spec(s, default_split)]
