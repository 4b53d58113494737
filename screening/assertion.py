"""Assertion status of a hit, ConText/NegEx style, from cue phrases in the hit's own sentence.

A cue applies when it stands on the side of the hit its list says (``before`` or ``after``), in the
same sentence, with no terminator ("but", "however", ";") between cue and hit. Cue tokens inside the
hit are ignored, so a rule that carries its own negation ("no rest day") stays asserted. Negation cues
reach at most ``NEGATION_WINDOW`` tokens; policy, hypothetical and remediation frames cover the
sentence. Where cues of several kinds apply, the strongest frame wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from .detect import Hit, phrase_docs
from .taxonomy import CUE_KINDS, Taxonomy

PRECEDENCE: tuple[str, ...] = ("policy", "hypothetical", "negated", "remediated")
NEGATION_WINDOW = 8


@dataclass(frozen=True)
class _Cue:
    start: int
    end: int
    kinds: frozenset[str]  # e.g. {"policy:before", "negated:after"}


class AssertionClassifier:
    """Decide ``asserted``/``negated``/``policy``/``hypothetical``/``remediated`` for hits."""

    def __init__(self, nlp: Language, taxonomy: Taxonomy) -> None:
        self.matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
        for kind in CUE_KINDS:
            cues = taxonomy.cues[kind]
            if cues.before:
                self.matcher.add(f"{kind}:before", phrase_docs(nlp, cues.before))
            if cues.after:
                self.matcher.add(f"{kind}:after", phrase_docs(nlp, cues.after))
        if taxonomy.terminators:
            self.matcher.add("terminator", phrase_docs(nlp, taxonomy.terminators))

    def _cues(self, doc: Doc) -> tuple[list[_Cue], list[int]]:
        labels: dict[tuple[int, int], set[str]] = {}
        strings = doc.vocab.strings
        for match_id, start, end in self.matcher(doc):
            labels.setdefault((start, end), set()).add(strings[match_id])
        # Longest cue wins where cues overlap ("no longer" over "no", "must not" over "not").
        chosen: list[_Cue] = []
        for (start, end), kinds in sorted(labels.items(), key=lambda kv: (kv[0][0] - kv[0][1], kv[0][0])):
            if all(end <= c.start or start >= c.end for c in chosen):
                chosen.append(_Cue(start, end, frozenset(kinds)))
        terminators = sorted(c.start for c in chosen if "terminator" in c.kinds)
        cues = sorted((c for c in chosen if c.kinds - {"terminator"}), key=lambda c: c.start)
        return cues, terminators

    def classify(self, doc: Doc, hits: list[Hit]) -> list[tuple[str, tuple[int, int] | None]]:
        """Return ``(status, cue token span or None)`` for each hit, in order."""
        if not hits:
            return []
        cues, terminators = self._cues(doc)
        out: list[tuple[str, tuple[int, int] | None]] = []
        for hit in hits:
            sent = doc[hit.start].sent
            found: dict[str, tuple[int, _Cue]] = {}
            for cue in cues:
                if cue.end <= sent.start or cue.start >= sent.end:
                    continue
                if cue.end <= hit.start:
                    side, gap = "before", hit.start - cue.end
                    blocked = any(cue.end <= t < hit.start for t in terminators)
                elif cue.start >= hit.end:
                    side, gap = "after", cue.start - hit.end
                    blocked = any(hit.end <= t < cue.start for t in terminators)
                else:
                    continue  # inside or overlapping the hit: part of the rule's own wording
                if blocked:
                    continue
                for kind in PRECEDENCE:
                    if f"{kind}:{side}" not in cue.kinds:
                        continue
                    if kind == "negated" and gap > NEGATION_WINDOW:
                        continue
                    # Keep the cue nearest to the hit for the explanation.
                    if kind not in found or gap < found[kind][0]:
                        found[kind] = (gap, cue)
            status = next((k for k in PRECEDENCE if k in found), None)
            if status is None:
                out.append(("asserted", None))
            else:
                cue = found[status][1]
                out.append((status, (cue.start, cue.end)))
        return out
