"""Rule detection: spaCy PhraseMatcher, Matcher and regexes compiled from a taxonomy."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from spacy.attrs import LEMMA, LOWER, SENT_START
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from .bounded import BoundedPattern, TokenArrays, compile_pattern, quantifier
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
        if op in _OPTIONAL or op == "!" or op.startswith("{0") or op.startswith("{,"):
            continue  # optional, or "!" (one token that is *not* the word)
        values = _token_values(token)
        if values is not None:
            out.append(values)
    return out


_RANGE = re.compile(r"^\{(\d*)(?:(,)(\d*))?\}$")


def max_length(pattern: Sequence[dict[str, Any]]) -> int | None:
    """The most tokens a match of ``pattern`` can span, or None when an operator is unbounded."""
    total = 0
    for token in pattern:
        op = str(token.get("OP", ""))
        if op in ("", "!", "?", "1"):
            total += 1
            continue
        m = _RANGE.match(op)
        if m is None or (m.group(2) and not m.group(3)):
            return None  # "*", "+", "{n,}"
        total += int(m.group(3) if m.group(2) else m.group(1))
    return total


# spaCy's Matcher follows every way of spreading a run of tokens over a repetition's optional slots; from
# this many optional slots in one element on, position-set matching (screening.bounded) is used instead.
LONG_REPETITION = 6


def _long_repetition(pattern: Sequence[dict[str, Any]]) -> bool:
    for token in pattern:
        bounds = quantifier(str(token.get("OP", "")))
        if bounds is not None and bounds[1] - bounds[0] >= LONG_REPETITION:
            return True
    return False


@dataclass(frozen=True)
class _Plan:
    """What one token pattern needs: word sets (string hashes) each matched somewhere, and its longest match."""

    required: tuple[frozenset[int], ...]
    length: int | None


class RuleDetector:
    """Find every rule hit of a taxonomy in a Doc, one hit per indicator per overlapping region.

    Token patterns are grouped per rule in small Matchers. A match holds a word of each of its
    pattern's required sets within the pattern's longest span, so a rule's Matcher runs only on the
    windows around its rarest required word where the other required words are near too (the whole Doc
    only for an unbounded pattern). That finds the matches running it on the whole Doc finds, in time
    that grows with the candidate regions rather than with document length times the number of rules.
    """

    def __init__(self, nlp: Language, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.phrases = PhraseMatcher(nlp.vocab, attr="LEMMA")
        self.rule_matchers: list[tuple[list[_Plan], Matcher]] = []
        self.bounded: list[tuple[str, _Plan, BoundedPattern]] = []
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
                    try:
                        matcher.add(key, [list(p) for p in rule.patterns])
                    except Exception as exc:  # spaCy raises ValueError/MatchPatternError with details
                        raise TaxonomyError(
                            f"{taxonomy.path}: indicator {ind.id} rule {rule.id}: invalid token pattern: {exc}"
                        ) from None
                    self._add_patterns(nlp, key, rule.patterns, matcher)
                for rx in rule.regex:
                    self.regexes.append((key, re.compile(rx, re.IGNORECASE)))

    def _add_patterns(self, nlp: Language, key: str, patterns: Sequence[Sequence[dict[str, Any]]],
                      matcher: Matcher) -> None:
        """Patterns with a long repetition go to position-set matching, the others stay with ``matcher``."""
        strings = nlp.vocab.strings
        left: list[tuple[_Plan, list[dict[str, Any]]]] = []
        for pattern in patterns:
            plan = _Plan(tuple(frozenset(strings.add(w) for w in req) for req in required_words(pattern)),
                         max_length(pattern))
            compiled = compile_pattern(pattern, strings) if _long_repetition(pattern) else None
            if compiled is None:
                left.append((plan, list(pattern)))
            else:
                self.bounded.append((key, plan, compiled))
        if not left:
            return
        if len(left) < len(patterns):
            matcher = Matcher(nlp.vocab)
            matcher.add(key, [p for _, p in left])
        self.rule_matchers.append(([plan for plan, _ in left], matcher))

    def find(self, doc: Doc) -> list[Hit]:
        """Return hits sorted by position; overlapping hits of one indicator keep the longest."""
        strings = doc.vocab.strings
        raw: list[tuple[str, int, int]] = []
        for match_id, start, end in self.phrases(doc):
            raw.append((strings[match_id], start, end))
        if (self.rule_matchers or self.bounded) and len(doc):
            where: dict[int, list[int]] = {}
            for i, (lemma, lower) in enumerate(doc.to_array([LEMMA, LOWER]).tolist()):
                where.setdefault(lemma, []).append(i)
                if lower != lemma:
                    where.setdefault(lower, []).append(i)
            positions: dict[frozenset[int], list[int]] = {}
            for plans, matcher in self.rule_matchers:
                for lo, hi in _windows(plans, where, positions, len(doc)):
                    for match_id, start, end in matcher(doc[lo:hi]):
                        raw.append((strings[match_id], lo + start, lo + end))
            tokens: TokenArrays | None = None
            for key, plan, bounded in self.bounded:
                for lo, hi in _windows([plan], where, positions, len(doc)):
                    tokens = tokens or TokenArrays(doc)
                    raw.extend((key, start, end) for start, end in bounded.matches(tokens, lo, hi))
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
        starts = sentence_starts(doc)
        n = len(doc)
        hits = []
        for key, start, end in raw:
            k = bisect_right(starts, start)
            end = min(end, starts[k] if k < len(starts) else n)
            while end > start and doc[end - 1].is_space:
                end -= 1
            if end > start:
                indicator, weight = self.meta[key]
                hits.append(Hit(indicator, key, start, end, weight))
        return _keep_longest_per_indicator(hits)


def _windows(plans: list[_Plan], where: dict[int, list[int]], positions: dict[frozenset[int], list[int]],
             n: int) -> list[tuple[int, int]]:
    """Disjoint token ranges that hold every match of one rule's patterns (often none).

    ``where`` maps a word (hash of a lemma or lower-cased form) to its token positions; ``positions``
    caches the sorted positions of a word set across rules.
    """
    windows: list[tuple[int, int]] = []
    for plan in plans:
        if not all(any(w in where for w in req) for req in plan.required):
            continue
        if plan.length is None or not plan.required:
            return [(0, n)]
        lists = []
        for req in plan.required:
            pos = positions.get(req)
            if pos is None:
                pos = positions[req] = sorted({i for w in req for i in where.get(w, ())})
            lists.append(pos)
        for p in min(lists, key=len):
            lo, hi = max(0, p - plan.length + 1), min(n, p + plan.length)
            if all((k := bisect_left(pos, lo)) < len(pos) and pos[k] < hi for pos in lists):
                windows.append((lo, hi))
    if not windows:
        return []
    windows.sort()
    merged = [windows[0]]
    for lo, hi in windows[1:]:
        if lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def sentence_starts(doc: Doc) -> list[int]:
    """Token index of every sentence start, in order (as ``doc.sents`` splits, without iterating tokens)."""
    if not len(doc):
        return []
    starts = np.flatnonzero(doc.to_array(SENT_START).astype(np.int64) == 1).tolist()
    return starts if starts and starts[0] == 0 else [0, *starts]


def _keep_longest_per_indicator(hits: list[Hit]) -> list[Hit]:
    by_indicator: dict[str, list[Hit]] = {}
    for h in hits:
        by_indicator.setdefault(h.indicator, []).append(h)
    kept: list[Hit] = []
    for group in by_indicator.values():
        group.sort(key=lambda h: (-(h.end - h.start), -h.weight, h.start, h.rule))
        covered: set[int] = set()  # tokens of the hits kept: linear, where comparing with each kept hit was not
        for h in group:
            span = range(h.start, h.end)
            if covered.isdisjoint(span):
                covered.update(span)
                kept.append(h)
    kept.sort(key=lambda h: (h.start, h.end, h.indicator))
    return kept
