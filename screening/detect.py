"""Rule detection: spaCy PhraseMatcher, Matcher and regexes compiled from a taxonomy."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


_OPTIONAL = ("?", "*")


def _token_values(token: dict[str, Any]) -> set[str] | None:
    """The lemma/lower-case strings one of which a token pattern requires, or None if unconstrained."""
    for attr in ("LEMMA", "LOWER", "NORM", "ORTH", "TEXT"):
        value = token.get(attr)
        if isinstance(value, str):
            return {value.lower()}
        if isinstance(value, dict) and isinstance(value.get("IN"), list):
            return {str(v).lower() for v in value["IN"]}
    return None


def required_words(pattern: Sequence[dict[str, Any]]) -> list[set[str]]:
    """For each non-optional token of a pattern with word constraints, the words it accepts.

    A document can only match the pattern if, for every set, it contains one of the words; this lets
    the detector skip most rules for most documents without running spaCy's Matcher.
    """
    out = []
    for token in pattern:
        op = str(token.get("OP", ""))
        if op in _OPTIONAL or op.startswith("{0") or op.startswith("{,"):
            continue
        values = _token_values(token)
        if values is not None:
            out.append(values)
    return out


class RuleDetector:
    """Find every rule hit of a taxonomy in a Doc, one hit per indicator per overlapping region.

    Token patterns are grouped per rule in small Matchers; a rule's Matcher runs only when the
    document holds the words its patterns require, which keeps matching linear and cheap.
    """

    def __init__(self, nlp: Language, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.phrases = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.rule_matchers: list[tuple[list[list[set[str]]], Matcher]] = []
        self.regexes: list[tuple[str, re.Pattern[str]]] = []
        self.meta: dict[str, tuple[str, float]] = {}
        for ind in taxonomy.indicators:
            for rule in ind.rules:
                key = f"{ind.id}/{rule.id}"
                self.meta[key] = (ind.id, rule.weight)
                if rule.phrases:
                    self.phrases.add(key, phrase_docs(nlp, rule.phrases))
                if rule.patterns:
                    matcher = Matcher(nlp.vocab, validate=True)
                    self.rule_matchers.append(([required_words(p) for p in rule.patterns], matcher))
                    try:
                        matcher.add(key, [list(p) for p in rule.patterns])
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
        words = {t.lemma_ for t in doc} | {t.lower_ for t in doc}
        for requirements, matcher in self.rule_matchers:
            if any(all(req & words for req in reqs) for reqs in requirements):
                for match_id, start, end in matcher(doc):
                    raw.append((strings[match_id], start, end))
        text = doc.text if self.regexes else ""
        for key, rx in self.regexes:
            for m in rx.finditer(text):
                if m.end() <= m.start():
                    continue
                span = doc.char_span(m.start(), m.end(), alignment_mode="expand")
                if span is None or len(span) == 0:
                    continue
                raw.append((key, span.start, span.end))
        if not raw:
            return []
        sent_end = sentence_ends(doc)
        hits = []
        for key, start, end in raw:
            end = min(end, int(sent_end[start]))
            while end > start and doc[end - 1].is_space:
                end -= 1
            if end > start:
                indicator, weight = self.meta[key]
                hits.append(Hit(indicator, key, start, end, weight))
        return _keep_longest_per_indicator(hits)


def sentence_ends(doc: Doc) -> list[int]:
    """For each token, the index just past the end of its sentence (one pass over the Doc)."""
    ends = [0] * len(doc)
    for sent in doc.sents:
        for i in range(sent.start, sent.end):
            ends[i] = sent.end
    return ends


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
