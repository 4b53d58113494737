"""Token patterns with bounded repetitions, matched by sets of positions instead of spaCy's Matcher.

spaCy's Matcher expands ``{"OP": "{0,16}"}`` into 16 optional tokens and follows every way of spreading a
run of matching tokens over them: for 8 such tokens, C(16, 8) = 12,870 states from one start. A rule
with such a gap took seconds on a long document. The matches themselves, every ``(start, end)`` at
which the pattern matches (what the Matcher returns), follow from the set of positions at which each
element can end, which bit operations compute for all ways at once.

Only what the shipped taxonomies use is compiled here (``LEMMA``/``LOWER`` equal to, ``IN``, ``NOT_IN``
or ``REGEX``; ``LIKE_NUM``/``IS_CURRENCY``/``IS_ALPHA`` flags; ``?``, ``{n}``, ``{n,m}``, ``{,m}``);
:func:`compile_pattern` returns None for anything else, which then stays with spaCy's Matcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from spacy.attrs import IS_ALPHA, IS_CURRENCY, LEMMA, LIKE_NUM, LOWER
from spacy.strings import StringStore
from spacy.tokens import Doc

_STRING_ATTRS = {"LEMMA": LEMMA, "LOWER": LOWER}
_FLAG_ATTRS = {"LIKE_NUM": LIKE_NUM, "IS_CURRENCY": IS_CURRENCY, "IS_ALPHA": IS_ALPHA}
_COLUMNS = (LEMMA, LOWER, LIKE_NUM, IS_CURRENCY, IS_ALPHA)
_RANGE = re.compile(r"^\{(\d*)(?:(,)(\d*))?\}$")


def quantifier(op: str) -> tuple[int, int] | None:
    """``(min, max)`` tokens of an operator, or None for an unbounded or unknown one."""
    if op in ("", "1"):
        return 1, 1
    if op == "?":
        return 0, 1
    m = _RANGE.match(op)
    if m is None or not (m.group(1) or m.group(3)):
        return None
    if not m.group(2):
        return int(m.group(1)), int(m.group(1))
    if not m.group(3):
        return None  # "{n,}"
    return int(m.group(1) or 0), int(m.group(3))


@dataclass(frozen=True)
class _Predicate:
    """One token's condition: ``kind`` is ``eq``, ``in``, ``not_in``, ``regex`` or ``flag``."""

    column: int
    kind: str
    values: frozenset[int] = frozenset()
    pattern: str = ""
    flag: bool = True


def _predicate(token: dict[str, Any], strings: StringStore) -> _Predicate | None:
    attrs = [k for k in token if k != "OP"]
    if len(attrs) != 1:
        return None
    attr, value = attrs[0], token[attrs[0]]
    if attr in _FLAG_ATTRS and isinstance(value, bool):
        return _Predicate(_COLUMNS.index(_FLAG_ATTRS[attr]), "flag", flag=value)
    if attr not in _STRING_ATTRS:
        return None
    column = _COLUMNS.index(_STRING_ATTRS[attr])
    if isinstance(value, str):
        return _Predicate(column, "eq", frozenset({strings.add(value)}))
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (kind, arg), = value.items()
    if kind in ("IN", "NOT_IN") and isinstance(arg, list) and all(isinstance(v, str) for v in arg):
        return _Predicate(column, kind.lower(), frozenset(strings.add(v) for v in arg))
    if kind == "REGEX" and isinstance(arg, str):
        return _Predicate(column, "regex", pattern=arg)
    return None


@dataclass(frozen=True)
class BoundedPattern:
    """A token pattern as ``(predicate, min, max)`` elements, matched by position sets."""

    elements: tuple[tuple[_Predicate, int, int], ...]

    def matches(self, tokens: TokenArrays, lo: int, hi: int) -> list[tuple[int, int]]:
        """Every ``(start, end)`` token span in ``[lo, hi)`` that the pattern matches, as spaCy's Matcher finds."""
        masks = [tokens.mask(pred, lo, hi) for pred, _, _ in self.elements]
        starts = _bits(masks[0]) if self.elements[0][1] else range(hi - lo)
        out: list[tuple[int, int]] = []
        for s in starts:
            reach = 1 << s
            for mask, (_, least, most) in zip(masks, self.elements, strict=True):
                ends = 0
                cur = reach
                for count in range(most + 1):
                    if count >= least:
                        ends |= cur
                    if count == most or not cur:
                        break
                    cur = (cur & mask) << 1
                reach = ends
                if not reach:
                    break
            out.extend((lo + s, lo + e) for e in _bits(reach) if e > s)
        return out


def compile_pattern(pattern: Sequence[dict[str, Any]], strings: StringStore) -> BoundedPattern | None:
    """The pattern in position-set form, or None when it uses something this module does not handle."""
    elements = []
    for token in pattern:
        bounds = quantifier(str(token.get("OP", "")))
        pred = _predicate(token, strings)
        if bounds is None or pred is None:
            return None
        elements.append((pred, *bounds))
    return BoundedPattern(tuple(elements)) if elements else None


def _bits(n: int) -> list[int]:
    out = []
    while n:
        low = n & -n
        out.append(low.bit_length() - 1)
        n ^= low
    return out


class TokenArrays:
    """A Doc's token attributes as arrays, and each predicate's truth per token, computed once per Doc."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.columns = doc.to_array(list(_COLUMNS)) if len(doc) else np.zeros((0, len(_COLUMNS)), dtype=np.uint64)
        self.truth: dict[_Predicate, np.ndarray] = {}

    def _truth(self, pred: _Predicate) -> np.ndarray:
        found = self.truth.get(pred)
        if found is not None:
            return found
        column = self.columns[:, pred.column]
        if pred.kind == "flag":
            found = (column != 0) == pred.flag
        elif pred.kind == "regex":
            found = self._regex(column, re.compile(pred.pattern).search)
        else:
            values = np.fromiter(pred.values, dtype=np.uint64, count=len(pred.values))
            found = np.isin(column, values, invert=pred.kind == "not_in")
        self.truth[pred] = found
        return found

    def _regex(self, column: np.ndarray, search: Callable[[str], Any]) -> np.ndarray:
        strings = self.doc.vocab.strings
        forms, inverse = np.unique(column, return_inverse=True)
        hit = np.array([search(strings[int(f)]) is not None for f in forms.tolist()], dtype=bool)
        return np.asarray(hit[inverse.reshape(-1)], dtype=bool)

    def mask(self, pred: _Predicate, lo: int, hi: int) -> int:
        """Bit ``i`` set when token ``lo + i`` satisfies ``pred``."""
        packed = np.packbits(self._truth(pred)[lo:hi], bitorder="little")
        return int.from_bytes(packed.tobytes(), "little")
