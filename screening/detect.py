"""Rule detection: spaCy PhraseMatcher, Matcher and regexes compiled from a taxonomy."""

from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .errors import TaxonomyError
from .nlp import LowerLemmatizer
from .taxonomy import Taxonomy


@dataclass(frozen=True)
class Hit:
    """A rule match in token offsets of a spaCy Doc (internal; the engine turns it into Evidence)."""

    indicator: str
    rule: str
    start: int
    end: int
    weight: float


def phrase_docs(nlp: Language, phrases: tuple[str, ...] | list[str]) -> list[Doc]:
    """Tokenise and lemmatise phrases exactly as documents are, for lemma phrase matching."""
    lemmatize = LowerLemmatizer()
    return [lemmatize(nlp.make_doc(p)) for p in phrases]


class RuleDetector:
    """Find every rule hit of a taxonomy in a Doc, one hit per indicator per overlapping region."""

    def __init__(self, nlp: Language, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.phrases = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.matcher = Matcher(nlp.vocab, validate=True)
        self.regexes: list[tuple[str, re.Pattern[str]]] = []
        self.meta: dict[str, tuple[str, float]] = {}
        for ind in taxonomy.indicators:
            for rule in ind.rules:
                key = f"{ind.id}/{rule.id}"
                self.meta[key] = (ind.id, rule.weight)
                if rule.phrases:
                    self.phrases.add(key, phrase_docs(nlp, rule.phrases))
                if rule.patterns:
                    try:
                        self.matcher.add(key, [list(p) for p in rule.patterns])
                    except Exception as exc:  # spaCy raises ValueError/MatchPatternError with details
                        raise TaxonomyError(
                            f"{taxonomy.path}: indicator {ind.id} rule {rule.id}: invalid token pattern: {exc}"
                        ) from None
                for rx in rule.regex:
                    self.regexes.append((key, re.compile(rx, re.IGNORECASE)))

    def find(self, doc: Doc) -> list[Hit]:
        """Return hits sorted by position; overlapping hits of one indicator keep the longest."""
        strings = doc.vocab.strings
        raw: list[tuple[str, int, int]] = []
        for match_id, start, end in self.phrases(doc):
            raw.append((strings[match_id], start, end))
        for match_id, start, end in self.matcher(doc):
            raw.append((strings[match_id], start, end))
        for key, rx in self.regexes:
            for m in rx.finditer(doc.text):
                if m.end() <= m.start():
                    continue
                span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
                if span is None or len(span) == 0:
                    continue
                sent_end = span[0].sent.end
                raw.append((key, span.start, min(span.end, sent_end)))
        hits = []
        for key, start, end in raw:
            sent = doc[start].sent
            end = min(end, sent.end)
            while end > start and doc[end - 1].is_space:
                end -= 1
            if end > start:
                indicator, weight = self.meta[key]
                hits.append(Hit(indicator, key, start, end, weight))
        return _keep_longest_per_indicator(hits)


def _keep_longest_per_indicator(hits: list[Hit]) -> list[Hit]:
    by_indicator: dict[str, list[Hit]] = {}
    for h in hits:
        by_indicator.setdefault(h.indicator, []).append(h)
    kept: list[Hit] = []
    for group in by_indicator.values():
        group.sort(key=lambda h: (-(h.end - h.start), -h.weight, h.start, h.rule))
        taken: list[Hit] = []
        for h in group:
            if all(h.end <= t.start or h.start >= t.end for t in taken):
                taken.append(h)
        kept.extend(taken)
    kept.sort(key=lambda h: (h.start, h.end, h.indicator))
    return kept
