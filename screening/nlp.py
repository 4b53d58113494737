"""The spaCy pipeline every stage shares: tokenizer, sentence boundaries and lower-cased lemmas.

No downloaded model is needed: ``spacy.blank("en")`` plus the ``sentencizer``, a line-break
boundary rule and a lookup lemmatiser from ``spacy-lookups-data``. A user may name an installed
trained pipeline instead (for its sentence boundaries); lemmas always come from the same lower-cased
lookup, so rules match identically whichever pipeline runs.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import spacy
from spacy.attrs import IS_SPACE, LEMMA, LOWER, SENT_START
from spacy.language import Language
from spacy.symbols import IDS
from spacy.tokens import Doc

if TYPE_CHECKING:
    from thinc.types import Ints2d

from .errors import ScreeningError

BLANK = "blank:en"


# Distinct lower-cased forms whose lemma is remembered across documents. Common words repeat (Zipf), so a
# small cache catches nearly every lookup; a bound keeps a stream of ever-new forms (numbers, names) from
# growing the process: 50,000 entries are about 9 MB.
LEMMA_CACHE_SIZE = 50_000


@lru_cache(maxsize=1)
def _lemma_table() -> Any:
    from spacy.lookups import load_lookups

    return load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")


class LowerLemmatizer:
    """Set each token's lemma to the lower-cased lookup lemma of its lower-cased form."""

    def __init__(self) -> None:
        self.table = _lemma_table()
        self.cache: dict[int, str] = {}  # hash of a lower-cased form -> its lemma

    def __call__(self, doc: Doc) -> Doc:
        """Set the lemmas of ``doc`` in place: one lookup per distinct word, one array write."""
        if not len(doc):
            return doc
        strings = doc.vocab.strings
        cache = self.cache
        forms, inverse = np.unique(doc.to_array(LOWER), return_inverse=True)
        lemmas = np.empty_like(forms)
        for n, low in enumerate(forms.tolist()):
            lemma = cache.get(low)
            if lemma is None:
                text = strings[low]
                lemma = str(self.table.get(text, text)).lower()
                if len(cache) < LEMMA_CACHE_SIZE:
                    cache[low] = lemma
            # Added per document: inside a memory zone the store forgets the strings it added at its end.
            lemmas[n] = strings.add(lemma)
        doc.from_array([LEMMA], cast("Ints2d", lemmas[inverse].reshape(-1, 1)))
        return doc


@Language.factory("screening_lemmatizer")
def make_lemmatizer(nlp: Language, name: str) -> LowerLemmatizer:
    """Lower-cased lookup lemmas (registered so the pipeline can be serialised by name)."""
    return LowerLemmatizer()


@Language.component("screening_line_breaks")
def line_breaks(doc: Doc) -> Doc:
    """Start a sentence after every line break, so list items and ad lines stay separate."""
    # The tokeniser puts line breaks only in whitespace tokens (a token's trailing whitespace is at most one
    # space), so only those are read. The starts are written as one array: setting Token.is_sent_start checks
    # the whole Doc for a parse on every call, which made this quadratic in the number of lines.
    if len(doc) < 2:
        return doc
    spaces = np.flatnonzero(doc.to_array(IS_SPACE)[:-1]).tolist()
    after = [i + 1 for i in spaces if "\n" in doc[i].text]
    if not after:
        return doc
    if doc.has_annotation("DEP"):
        doc[after[0]].is_sent_start = True  # spaCy refuses to change a parsed Doc's sentences, as it did here
    starts = doc.to_array(SENT_START)
    starts[after] = 1
    doc.from_array([SENT_START], cast("Ints2d", starts.reshape(-1, 1)))
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
    # Words spelled like spaCy's attribute symbols get permanent entries before any memory zone: with
    # spaCy 3.8, a document holding "IS_ALPHA" breaks the vocabulary for every later document once the
    # memory zone that first saw it closes (found by tests/test_fuzz.py).
    for name in IDS:
        if name:
            nlp.vocab[name]
    return nlp
