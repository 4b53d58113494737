"""The spaCy pipeline every stage shares: tokenizer, sentence boundaries and lower-cased lemmas.

No downloaded model is needed: ``spacy.blank("en")`` plus the ``sentencizer``, a line-break
boundary rule and a lookup lemmatiser from ``spacy-lookups-data``. A user may name an installed
trained pipeline instead (for its sentence boundaries); lemmas always come from the same lower-cased
lookup, so rules match identically whichever pipeline runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from .errors import ScreeningError

BLANK = "blank:en"


@lru_cache(maxsize=1)
def _lemma_table() -> Any:
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


class LowerLemmatizer:
    """Set each token's lemma to the lower-cased lookup lemma of its lower-cased form."""

    def __init__(self) -> None:
        self.table = _lemma_table()
        self.cache: dict[str, str] = {}

    def __call__(self, doc: Doc) -> Doc:
        """Set the lemmas of ``doc`` in place."""
        cache = self.cache
        for token in doc:
            low = token.lower_
            lemma = cache.get(low)
            if lemma is None:
                lemma = str(self.table.get(low, low)).lower()
                if len(cache) < 200_000:
                    cache[low] = lemma
            token.lemma_ = lemma
        return doc


@Language.factory("screening_lemmatizer")
def make_lemmatizer(nlp: Language, name: str) -> LowerLemmatizer:
    """Lower-cased lookup lemmas (registered so the pipeline can be serialised by name)."""
    return LowerLemmatizer()


@Language.component("screening_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a sentence after every line break, so list items and ad lines stay separate."""
    for i, token in enumerate(doc[:-1]):
        if "\n" in token.text or "\n" in token.whitespace_:
            doc[i + 1].is_sent_start = True
    return doc


def build_nlp(pipeline: str = BLANK) -> Language:
    """Build the shared pipeline: the blank English one, or an installed trained pipeline."""
    if pipeline == BLANK:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("screening_line_breaks")
        nlp.add_pipe("screening_lemmatizer")
    else:
        try:
            nlp = spacy.load(pipeline, exclude=["ner"])
        except OSError as exc:
            raise ScreeningError(
                f"spaCy pipeline {pipeline!r} is not installed ({exc}); use the default {BLANK!r}",
                code="pipeline_missing",
            ) from None
        if not nlp.has_pipe("parser") and not nlp.has_pipe("senter"):
            nlp.add_pipe("sentencizer")
        nlp.add_pipe("screening_line_breaks", last=True)
        nlp.add_pipe("screening_lemmatizer", last=True)
    nlp.max_length = 2_000_000
    return nlp
