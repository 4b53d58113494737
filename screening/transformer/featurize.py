"""From documents to what the transformer models read: sentence embeddings and one feature row per document.

A document's row is ``[mean sentence embedding | best matcher score per indicator over asserted
sentences | rule features]``. The mean embedding summarises the wording; matcher scores say which
indicators the text resembles (only asserted sentences count, as for evidence); the rule columns are
the fast models' rule features, so the classifier knows what the rules found and in which frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..models.features import rule_feature_names
from ..sentences import Sentence

if TYPE_CHECKING:
    from .encoder import SentenceEncoder


@dataclass(frozen=True)
class DocView:
    """The encoded sentences of one document (all of them, or the candidates chosen for encoding)."""

    sentences: tuple[Sentence, ...]
    texts: tuple[str, ...]
    embeddings: np.ndarray

    @property
    def asserted(self) -> np.ndarray:
        """Indices of sentences in the asserted frame."""
        return np.array([n for n, s in enumerate(self.sentences) if s.frame == "asserted"], dtype=int)


def views_of(encoder: SentenceEncoder, texts: Sequence[str], sentence_lists: Sequence[Sequence[Sentence]]
             ) -> list[DocView]:
    """Encode the sentences of many documents in one pass (batched across documents)."""
    flat: list[str] = []
    spans: list[tuple[int, int]] = []
    for text, sents in zip(texts, sentence_lists, strict=True):
        start = len(flat)
        flat.extend(text[s.start : s.end] for s in sents)
        spans.append((start, len(flat)))
    vectors = encoder.encode(flat) if flat else np.zeros((0, encoder.dim), dtype=np.float32)
    return [DocView(tuple(sents), tuple(flat[a:b]), vectors[a:b])
            for sents, (a, b) in zip(sentence_lists, spans, strict=True)]


def best_asserted(view: DocView, scores: np.ndarray) -> np.ndarray:
    """Per indicator, the best score over the asserted sentences (0 when none)."""
    idx = view.asserted
    if not len(idx) or not scores.shape[1]:
        return np.zeros(scores.shape[1])
    return np.maximum(scores[idx].max(axis=0), 0.0)


def feature_row(view: DocView, match_best: np.ndarray, rules: np.ndarray, dim: int) -> np.ndarray:
    """One document's feature row (see the module docstring)."""
    mean = view.embeddings.mean(axis=0) if len(view.embeddings) else np.zeros(dim)
    return np.concatenate([mean, match_best, rules]).astype(np.float64)


def feature_names(indicator_ids: Sequence[str], dim: int) -> list[str]:
    """Column names of :func:`feature_row`."""
    return ([f"embedding:{i}" for i in range(dim)] + [f"semantic:{i}" for i in indicator_ids]
            + [f"rules:{n}" for n in rule_feature_names(indicator_ids)])
