"""Sentence records handed to scorers that raise evidence of their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """A sentence of the document (character offsets, no surrounding space) and its assertion frame."""

    start: int
    end: int
    frame: str


def candidate_spans(sentences: Sequence[Sentence]) -> list[tuple[int, int]]:
    """Spans an indicator model scores: each asserted sentence and each pair of adjacent asserted ones.

    Findings often take two sentences ("W3 said the supervisor keeps the key. She must ask him to go
    out."); the pair carries what neither sentence says alone.
    """
    out = [(s.start, s.end) for s in sentences if s.frame == "asserted"]
    for a, b in zip(sentences, sentences[1:], strict=False):
        if a.frame == "asserted" and b.frame == "asserted":
            out.append((a.start, b.end))
    return out
