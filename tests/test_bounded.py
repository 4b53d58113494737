from __future__ import annotations

from typing import Any

import pytest
from spacy.matcher import Matcher

from screening.bounded import TokenArrays, compile_pattern, quantifier
from screening.nlp import build_nlp

NLP = build_nlp()
STOP = {"LEMMA": {"NOT_IN": ["not", "no", ".", "!"]}}
TEXTS = [
    "We were promised 500 dollars a month but they only paid us 200 dollars after the deductions.",
    "The agent offered 3 jobs. Workers were not paid 40 at all, never.",
    "They said 1,200 and we get 300 in hand, only 300!",
    "Pay $ 50 now to confirm. Fees of USD 100 apply for the passport.",
    "urgent ! urgent : hiring now 10 workers 10 urgent",
    "",
]
PATTERNS: list[list[dict[str, Any]]] = [
    [{"LEMMA": {"IN": ["promise", "offer", "say"]}}, {**STOP, "OP": "{0,6}"}, {"LIKE_NUM": True},
     {**STOP, "OP": "{0,16}"}, {"LEMMA": {"IN": ["pay", "get"]}}, {**STOP, "OP": "{0,4}"}, {"LIKE_NUM": True}],
    [{"LOWER": {"IN": ["urgent"]}}, {"LOWER": {"IN": ["!", ":"]}}],
    [{"IS_CURRENCY": True, "OP": "?"}, {"LIKE_NUM": True}, {"LEMMA": "dollar", "OP": "{1,2}"}],
    [{"LOWER": {"REGEX": "^[0-9]{2,3}$"}}, {"IS_ALPHA": True, "OP": "{,3}"}, {"LEMMA": {"NOT_IN": ["."]}, "OP": "?"}],
    [{"LEMMA": "pay"}, {"IS_CURRENCY": True, "OP": "{0,2}"}, {"LIKE_NUM": True, "OP": "{2}"}],
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("text", TEXTS)
def test_bounded_pattern_finds_exactly_the_matches_of_spacys_matcher(pattern: list[dict[str, Any]], text: str) -> None:
    doc = NLP(text)
    matcher = Matcher(NLP.vocab)
    matcher.add("p", [pattern])
    expected = {(start, end) for _, start, end in matcher(doc)}
    compiled = compile_pattern(pattern, NLP.vocab.strings)
    assert compiled is not None
    tokens = TokenArrays(doc)
    assert set(compiled.matches(tokens, 0, len(doc))) == expected
    # A window that holds every match finds them all, at document offsets.
    if expected:
        lo, hi = min(s for s, _ in expected), max(e for _, e in expected)
        assert set(compiled.matches(tokens, lo, hi)) == expected


@pytest.mark.parametrize("pattern", [
    [{"LOWER": "a", "OP": "+"}],
    [{"LOWER": "a", "OP": "*"}],
    [{"ORTH": "A"}],
    [{"LOWER": {"FUZZY": "passport"}}],
    [{"LOWER": "a", "LEMMA": "a"}],
    [{"LOWER": "a", "OP": "{2,}"}],
])
def test_patterns_outside_the_supported_subset_stay_with_spacy(pattern: list[dict[str, Any]]) -> None:
    assert compile_pattern(pattern, NLP.vocab.strings) is None


def test_quantifiers() -> None:
    assert [quantifier(op) for op in ("", "?", "{3}", "{0,4}", "{,2}", "{1,}", "+", "*")] == [
        (1, 1), (0, 1), (3, 3), (0, 4), (0, 2), None, None, None]
