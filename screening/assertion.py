"""Assertion status of a hit, ConText/NegEx style, from cue phrases in the hit's own sentence.

A cue applies when it stands on the side of the hit its list says (``before`` or ``after``), in the
same sentence, with no terminator ("but", "however", ";") between cue and hit. Cue tokens inside the
hit are ignored, so a rule that carries its own negation ("no rest day") stays asserted. Negation cues
reach at most ``NEGATION_WINDOW`` tokens; policy, hypothetical and remediation frames cover the
sentence. Where cues of several kinds apply, the strongest frame wins.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from .detect import Hit, phrase_docs
from .taxonomy import CUE_KINDS, Taxonomy

PRECEDENCE: tuple[str, ...] = ("policy", "hypothetical", "negated", "remediated")
NEGATION_WINDOW = 8
FRAME_WINDOW = 5


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
        # Longest cue wins where cues overlap ("no longer" over "no", "must not" over "not"). A token map of
        # the cues taken keeps this linear; comparing with every cue taken so far was quadratic per chunk.
        chosen: list[_Cue] = []
        taken = bytearray(len(doc))
        for (start, end), kinds in sorted(labels.items(), key=lambda kv: (kv[0][0] - kv[0][1], kv[0][0])):
            if not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                chosen.append(_Cue(start, end, frozenset(kinds)))
        terminators = sorted(c.start for c in chosen if "terminator" in c.kinds)
        cues = sorted((c for c in chosen if c.kinds - {"terminator"}), key=lambda c: c.start)
        return cues, terminators

    def cues(self, doc: Doc) -> tuple[list[_Cue], list[int]]:
        """Cue and terminator positions of a Doc; compute once, pass to the methods below."""
        return self._cues(doc)

    def sentence_frames(self, doc: Doc, cues: tuple[list[_Cue], list[int]] | None = None
                        ) -> list[tuple[int, int, str]]:
        """``(start, end, status)`` of every sentence, for evidence without a rule span (model evidence).

        A sentence is framed by the cues that open it (within its first ``FRAME_WINDOW`` tokens): "We
        will...", "Our code of conduct prohibits...", "No worker reported...", "The sector carries a risk
        of...". Cues deeper in a sentence are left to rule spans: a finding often carries them itself
        ("workers were told they would be deported if they complained", "workers had no rest day").
        """
        cue_list, _ = cues if cues is not None else self._cues(doc)
        out = []
        k = 0
        for sent in doc.sents:
            while k < len(cue_list) and cue_list[k].start < sent.start:
                k += 1
            found: set[str] = set()
            j = k
            opening = min(sent.end, sent.start + FRAME_WINDOW)
            while j < len(cue_list) and cue_list[j].start < opening:
                cue = cue_list[j]
                for kind in PRECEDENCE:
                    if any(c == f"{kind}:before" for c in cue.kinds):
                        found.add(kind)
                j += 1
            status = next((kind for kind in PRECEDENCE if kind in found), "asserted")
            out.append((sent.start, sent.end, status))
        return out

    def classify(self, doc: Doc, hits: list[Hit], cues: tuple[list[_Cue], list[int]] | None = None
                 ) -> list[tuple[str, tuple[int, int] | None]]:
        """Return ``(status, cue token span or None)`` for each hit, in order."""
        if not hits:
            return []
        cue_list, terminators = cues if cues is not None else self._cues(doc)
        bounds = {}
        for s in doc.sents:
            bounds[s.start] = s.end
        starts = sorted(bounds)
        cue_starts = [c.start for c in cue_list]
        out: list[tuple[str, tuple[int, int] | None]] = []
        for hit in hits:
            s_start = starts[bisect_right(starts, hit.start) - 1]
            sent = range(s_start, bounds[s_start])
            found: dict[str, tuple[int, _Cue]] = {}
            # Only the cues of the hit's own sentence (cues never cross sentences): linear in document size.
            lo = bisect_left(cue_starts, sent.start)
            hi = bisect_left(cue_starts, sent.stop)
            for cue in cue_list[lo:hi]:
                if cue.end <= sent.start or cue.start >= sent.stop:
                    continue
                if cue.end <= hit.start:
                    side, gap = "before", hit.start - cue.end
                    blocked = _any_between(terminators, cue.end, hit.start)
                elif cue.start >= hit.end:
                    side, gap = "after", cue.start - hit.end
                    blocked = _any_between(terminators, hit.end, cue.start)
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


def _any_between(sorted_positions: list[int], lo: int, hi: int) -> bool:
    """Whether a position ``p`` with ``lo <= p < hi`` is in the sorted list (a bisection, not a scan)."""
    k = bisect_left(sorted_positions, lo)
    return k < len(sorted_positions) and sorted_positions[k] < hi
