"""Document scoring stage. The rule scorer is the transparent default; a trained model replaces it.

A scorer receives the plain text and the evidence found so far and returns the document score, the
verdict, the indicator scores and any evidence of its own. The engine knows only this interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .results import Evidence, IndicatorScore
from .sentences import Sentence
from .taxonomy import Taxonomy

# How much one indicator at full severity moves the document score: 1 - prod(1 - K * s_i).
INDICATOR_PULL = 0.7
# A finding reported as remediated shows the indicator occurred, but weighs far less than an open one.
REMEDIATED_FACTOR = 0.2
# A gated document (no asserted indicator) keeps its rank but stays just under the review threshold.
GATE_FACTOR = 0.99


@dataclass(frozen=True)
class Scored:
    """What a scorer returns for one document."""

    score: float
    verdict: str
    indicators: tuple[IndicatorScore, ...]
    evidence: tuple[Evidence, ...] = ()
    # The rule evidence as the scorer judged it (some hits marked ``unsupported``); ``None``: unchanged.
    rules: tuple[Evidence, ...] | None = None


class Scorer(Protocol):
    """The pluggable scoring stage."""

    name: str | None

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence] = ()) -> Scored:
        """Score one document from its text, rule evidence and (when asked for) its sentences."""
        ...


def verdict_for(score: float, review: float, high: float) -> str:
    """Map a score to ``low``/``review``/``high`` with the given thresholds."""
    if score >= high:
        return "high"
    if score >= review:
        return "review"
    return "low"


def indicator_strengths(evidence: tuple[Evidence, ...]) -> dict[str, tuple[float, int]]:
    """Per indicator: strongest evidence weight (remediated discounted) and count of asserted pieces."""
    out: dict[str, tuple[float, int]] = {}
    for e in evidence:
        if e.assertion == "asserted":
            w = e.weight
        elif e.assertion == "remediated":
            w = e.weight * REMEDIATED_FACTOR
        else:
            continue
        best, n = out.get(e.indicator, (0.0, 0))
        out[e.indicator] = (max(best, w), n + (e.assertion == "asserted"))
    return out


def indicator_scores(taxonomy: Taxonomy, rule_evidence: Sequence[Evidence], model_evidence: Sequence[Evidence]
                     ) -> tuple[IndicatorScore, ...]:
    """Indicators from asserted rule evidence and asserted model evidence (weight x indicator weight)."""
    counts: dict[str, tuple[float, int]] = {}
    for iid, (strength, n) in indicator_strengths(tuple(rule_evidence)).items():
        if n and iid in taxonomy.by_id:
            counts[iid] = (taxonomy.by_id[iid].weight * strength, n)
    for e in model_evidence:
        if e.assertion != "asserted" or e.indicator not in taxonomy.by_id:
            continue
        best, n = counts.get(e.indicator, (0.0, 0))
        counts[e.indicator] = (max(best, e.weight * taxonomy.by_id[e.indicator].weight), n + 1)
    return tuple(sorted((IndicatorScore(iid, taxonomy.by_id[iid].name, s, n) for iid, (s, n) in counts.items()),
                        key=lambda i: (-i.score, i.id)))


class RuleScorer:
    """Combine asserted indicators by severity: transparent, no training needed."""

    name: str | None = None

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence] = ()) -> Scored:
        """Score = 1 - prod(1 - K * weight_indicator * strength_indicator) over found indicators."""
        keep = 1.0
        indicators = []
        for iid, (strength, count) in indicator_strengths(evidence).items():
            ind = self.taxonomy.by_id[iid]
            s = ind.weight * strength
            keep *= 1.0 - INDICATOR_PULL * s
            if count:
                indicators.append(IndicatorScore(iid, ind.name, s, count))
        score = 1.0 - keep
        t = self.taxonomy
        indicators.sort(key=lambda i: (-i.score, i.id))
        return Scored(score, verdict_for(score, t.review_threshold, t.high_threshold), tuple(indicators))
