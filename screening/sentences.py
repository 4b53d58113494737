"""Sentence records handed to scorers that raise evidence of their own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sentence:
    """A sentence of the document (character offsets, no surrounding space) and its assertion frame."""

    start: int
    end: int
    frame: str
