"""Scoring stages of the transformer backend: the transformer scorer and the cascade over the fast model.

:class:`TransformerScorer` encodes a document's sentences, raises semantic evidence (rule
``semantic/<ID>``, ``source: "model"``, the sentence's assertion frame, weight = cosine similarity to
the nearest prototype, ``cue`` = that prototype) and scores the document with the embedding
classifier. Only asserted evidence counts toward indicators and score, as for rules. An artefact
with an indicator tagger (:mod:`.tagger`) raises indicators from the rules and the tagger (rule
``tagger/<ID>``); the matcher's matches then support indicators those raised, and raise one alone
only well above the matcher's threshold. When the tagger checks the rules (``rule_support``), an
asserted rule hit its document score does not support is returned marked ``unsupported``: shown, not
counted.

:class:`CascadeScorer` scores every document with the fast scorer and hands a document to the
transformer only when the fast score falls in an uncertainty band; a long document in the band sends
only its top candidate sentences (rule hits first, then the fast indicator models' best sentences).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from threadpoolctl import ThreadpoolController

from ..errors import ModelError
from ..models.features import rule_features
from ..results import Evidence
from ..scoring import GATE_FACTOR, Scored, Scorer, indicator_scores, verdict_for
from ..sentences import Sentence
from ..taxonomy import Taxonomy
from .encoder import SentenceEncoder
from .featurize import DocView, best_asserted, feature_row, views_of
from .matcher import Match, SemanticMatcher
from .tagger import IndicatorTagger
from .train import MAX_SENTENCES, load_transformer, select_sentences

SEMANTIC_RULE = "semantic/"


def semantic_evidence(text: str, sentence: Sentence, match: Match) -> Evidence:
    """The whole sentence as evidence of the matched indicator, in the sentence's assertion frame."""
    return Evidence(match.indicator, SEMANTIC_RULE + match.indicator, sentence.start, sentence.end,
                    text[sentence.start : sentence.end], sentence.frame, "model", match.similarity, match.prototype)


class TransformerScorer:
    """Score with the semantic matcher and the embedding classifier; rule evidence stays in the output."""

    needs_sentences = True

    def __init__(self, taxonomy: Taxonomy, encoder: SentenceEncoder, bundle: dict[str, Any], manifest: dict[str, Any],
                 *, max_sentences: int | None = MAX_SENTENCES) -> None:
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.matcher: SemanticMatcher = bundle["matcher"]
        self.classifier = bundle["classifier"]
        self.tagger: IndicatorTagger | None = bundle.get("tagger")
        self.indicator_ids: list[str] = list(bundle["indicator_ids"])
        if self.indicator_ids != [i.id for i in taxonomy.indicators]:
            raise ModelError(f"{manifest.get('name')}: built for indicators {', '.join(self.indicator_ids)}, but the "
                             "taxonomy has others; refit the transformer backend for this taxonomy",
                             code="model_incompatible")
        self.manifest = manifest
        self.review = float(manifest["thresholds"]["review"])
        self.high = float(manifest["thresholds"]["high"])
        self.gate = bool(manifest.get("gate_on_indicators", False))
        self.max_sentences = max_sentences
        self.name: str | None = f"{manifest['name']}@{manifest['files']['model.joblib'][:12]}"
        self._threadpools = ThreadpoolController()

    @classmethod
    def from_dir(cls, taxonomy: Taxonomy, encoder: SentenceEncoder, directory: str | Path,
                 **settings: Any) -> TransformerScorer:
        """Load a verified artefact folder built on ``encoder``."""
        bundle, manifest = load_transformer(directory, encoder)
        return cls(taxonomy, encoder, bundle, manifest, **settings)

    def view(self, text: str, sentences: Sequence[Sentence]) -> DocView:
        """Encode the given sentences of ``text``."""
        return views_of(self.encoder, [text], [list(sentences)])[0]

    def assess(self, text: str, evidence: tuple[Evidence, ...], view: DocView
               ) -> tuple[tuple[Evidence, ...], tuple[Evidence, ...], float]:
        """Rule evidence as judged, semantic evidence and the classifier's probability for an encoded document.

        Whole-sentence evidence for every sentence the matcher places in an indicator, in the sentence's
        frame; the probability from the document's feature row. With a tagger that checks the rules, an
        asserted rule hit its document score does not support comes back marked ``unsupported``. The
        matrices are small, so one thread.
        """
        rules = evidence
        with self._threadpools.limit(limits=1):
            scores, matches = self.matcher.score_and_match(view.embeddings)
            if self.tagger is not None:
                # With a tagger, the matcher's asserted matches support what the rules or the tagger raised, and
                # raise an indicator alone only ``matcher_margin`` above the matcher's threshold (see .tagger).
                tagged_list, best = self.tagger.read(text, view.sentences)
                tagged = tuple(tagged_list)
                rules = self.check_rules(evidence, best)
                raised = {e.indicator for e in tagged} | {e.indicator for e in rules
                                                          if e.source == "rule" and e.assertion == "asserted"}
                margin = self.tagger.matcher_margin
                matches = [m for m in matches if view.sentences[m.sentence].frame != "asserted"
                           or m.indicator in raised or m.score >= self.matcher.thresholds_[m.indicator] + margin]
            semantic = tuple(semantic_evidence(text, view.sentences[m.sentence], m) for m in matches)
            if self.tagger is not None:
                semantic += tagged
            # The classifier learnt from every asserted rule hit, checked or not.
            row = feature_row(view, best_asserted(view, scores), rule_features(evidence, self.indicator_ids),
                              self.encoder.dim)
            p = float(self.classifier.predict_proba(row.reshape(1, -1))[0, 1])
        return rules, semantic, p

    def check_rules(self, evidence: tuple[Evidence, ...], best: Any) -> tuple[Evidence, ...]:
        """Mark ``unsupported`` the asserted rule hits whose indicator the tagger's document score does not reach.

        ``best``: the tagger's score per indicator, ``None`` when it had no window to read (hits then stand).
        """
        tagger = self.tagger
        if tagger is None or best is None or tagger.rule_support <= 0:
            return evidence
        index = {iid: j for j, iid in enumerate(tagger.indicator_ids)}
        out = []
        for e in evidence:
            if (e.source == "rule" and e.assertion == "asserted" and e.indicator in index
                    and not tagger.supports(e.indicator, best)):
                e = replace(e, assertion="unsupported",
                            cue=f"model score {best[index[e.indicator]]:.2f} < {tagger.support_floor(e.indicator):.2f}")
            out.append(e)
        return tuple(out)

    def score_view(self, text: str, evidence: tuple[Evidence, ...], view: DocView) -> Scored:
        """Score a document from an already encoded view."""
        rules, semantic, p = self.assess(text, evidence, view)
        indicators = indicator_scores(self.taxonomy, rules, semantic)
        if self.gate and not indicators:
            p = min(p, self.review * GATE_FACTOR)
        return Scored(p, verdict_for(p, self.review, self.high), indicators, semantic,
                      None if rules is evidence else rules)

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence] = ()) -> Scored:
        """Encode the document's sentences (at most ``max_sentences``, rule-bearing first) and score it."""
        chosen = select_sentences(sentences, evidence, self.max_sentences)
        return self.score_view(text, evidence, self.view(text, chosen))


class CascadeScorer:
    """The fast scorer for every document; the transformer only where the fast score is uncertain.

    Parameters
    ----------
    fast: the engine's scorer (a trained :class:`~screening.models.scorer.ModelScorer`, or the rule scorer).
    transformer: the transformer scorer.
    band: ``(low, high)`` fast scores sent to the transformer (``low <= score < high``).
    blend: weight of the transformer's probability in the final score of a routed document.
    long_sentences: a routed document with more sentences than this sends only its candidates.
    top_sentences: how many candidate sentences a long routed document sends.
    """

    needs_sentences = True

    def __init__(self, taxonomy: Taxonomy, fast: Scorer, transformer: TransformerScorer, *,
                 band: tuple[float, float] | None = None, blend: float = 0.5, long_sentences: int = 24,
                 top_sentences: int = 12) -> None:
        self.taxonomy = taxonomy
        self.fast = fast
        self.transformer = transformer
        self.review = float(getattr(fast, "review", taxonomy.review_threshold))
        self.high = float(getattr(fast, "high", taxonomy.high_threshold))
        self.band = band if band is not None else default_band(self.review, self.high)
        self.blend = blend
        self.long_sentences = long_sentences
        self.top_sentences = top_sentences
        self.gate = bool(getattr(fast, "gate", False))
        self.name: str | None = f"cascade({fast.name or 'rules'}+{transformer.name})"

    def routes(self, fast_score: float) -> bool:
        """Whether a document with this fast score goes to the transformer."""
        return self.band[0] <= fast_score < self.band[1]

    def candidates(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence]) -> list[Sentence]:
        """All sentences of a short document; the top candidates of a long one."""
        if len(sentences) <= self.long_sentences:
            return list(sentences)
        priority = None
        models: Any = getattr(self.fast, "indicators", None)
        if models is not None and len(models.labels_):
            probs = models.predict_sentences([text[s.start : s.end] for s in sentences])
            priority = probs.max(axis=1) if probs.size else None
        return select_sentences(sentences, evidence, self.top_sentences, priority)

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence] = ()) -> Scored:
        """Fast score; for documents in the band, blended with the transformer's, evidence merged."""
        fast = self.fast.score(text, evidence, sentences)
        if not self.routes(fast.score):
            return fast
        view = self.transformer.view(text, self.candidates(text, evidence, sentences))
        rules, semantic, p_t = self.transformer.assess(text, evidence, view)
        p = self.blend * p_t + (1.0 - self.blend) * fast.score
        model_evidence = [e for e in fast.evidence if e.source == "model"] + list(semantic)
        indicators = indicator_scores(self.taxonomy, rules, model_evidence)
        if self.gate and not indicators:
            p = min(p, self.review * GATE_FACTOR)
        return Scored(p, verdict_for(p, self.review, self.high), indicators, fast.evidence + semantic,
                      None if rules is evidence else rules)


def default_band(review: float, high: float) -> tuple[float, float]:
    """The default uncertainty band: 75% to 125% of the review threshold (never past ``high``).

    Chosen on the corpora's dev splits: wider bands routed more documents (up to a quarter) for the
    same or a lower cascade F1.
    """
    return round(review * 0.75, 4), round(min(review * 1.25, high), 4)
