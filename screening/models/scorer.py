"""The trained scoring stage: calibrated document probability, model-raised indicators, term evidence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..results import Evidence
from ..scoring import GATE_FACTOR, Scored, indicator_scores, verdict_for
from ..sentences import Sentence, candidate_spans
from ..taxonomy import Taxonomy
from .artefacts import load_artefact
from .calibration import GateCalibration
from .classifier import DocumentClassifier, FeatureCache, term_spans
from .features import rule_features
from .indicators import IndicatorModels, long_enough
from .scope import ScopeModel

TERM_EVIDENCE = 5
MODEL_INDICATOR = "MODEL"


class ModelScorer:
    """Score with a trained artefact; rule evidence feeds the model and stays in the output."""

    needs_sentences = True

    def __init__(self, taxonomy: Taxonomy, bundle: dict[str, Any], manifest: dict[str, Any]) -> None:
        self.taxonomy = taxonomy
        self.classifier: DocumentClassifier = bundle["classifier"]
        self.indicators: IndicatorModels | None = bundle.get("indicators")
        self.indicator_ids: list[str] = list(bundle["indicator_ids"])
        self.manifest = manifest
        self.review = float(manifest["thresholds"]["review"])
        self.high = float(manifest["thresholds"]["high"])
        self.gate = bool(manifest.get("gate_on_indicators", False))
        self.calibration: GateCalibration | None = bundle.get("calibration")
        self.scope: ScopeModel | None = bundle.get("scope")
        # Indicator models run where the raw probability reaches this (older artefacts: the review threshold).
        self.indicator_gate = float(manifest.get("params", {}).get("indicator_gate") or self.review)
        self.name: str | None = f"{manifest['name']}@{manifest['files']['model.joblib'][:12]}"

    @classmethod
    def from_dir(cls, taxonomy: Taxonomy, directory: Path) -> ModelScorer:
        """Load a verified artefact folder."""
        bundle, manifest = load_artefact(directory)
        return cls(taxonomy, bundle, manifest)

    def _model_indicators(self, text: str, sentences: Sequence[Sentence]) -> list[Evidence]:
        spans = [(a, b) for a, b in candidate_spans(sentences) if long_enough(text[a:b])]
        if self.indicators is None or not spans:
            return []
        probs = self.indicators.predict_sentences([text[a:b] for a, b in spans])
        out = []
        for j, iid in enumerate(self.indicators.labels_):
            above = np.flatnonzero(probs[:, j] >= self.indicators.thresholds_[iid]).tolist()
            if not above:
                continue
            # One piece of evidence per indicator and region: the best-scoring span, then others apart from it.
            taken: list[tuple[int, int]] = []
            for n in sorted(above, key=lambda k: -probs[k, j]):
                a, b = spans[n]
                if all(b <= x or a >= y for x, y in taken):
                    taken.append((a, b))
                    out.append(Evidence(iid, f"model/{iid}", a, b, text[a:b], "asserted", "model", float(probs[n, j])))
        return out

    def _term_evidence(self, text: str, rules: np.ndarray, cache: FeatureCache) -> list[Evidence]:
        out = []
        for term, contribution in self.classifier.top_terms(text, rules, TERM_EVIDENCE, cache=cache):
            for start, end in term_spans(text, term, limit=1):
                out.append(Evidence(MODEL_INDICATOR, f"model/term:{term}", start, end, text[start:end], "asserted",
                                    "model", contribution))
        return out

    def score(self, text: str, evidence: tuple[Evidence, ...], sentences: Sequence[Sentence] = ()) -> Scored:
        """Calibrated score and verdict; indicators from rules and from the indicator models."""
        rules = rule_features(evidence, self.indicator_ids).reshape(1, -1)
        cache: FeatureCache = {}
        p = float(self.classifier.predict_proba([text], rules, cache=cache)[0, 1])
        # Indicator models speak only where the document model flags: their evidence explains a flag.
        model_ev = self._model_indicators(text, sentences) if p >= self.indicator_gate else []
        model_ev = [e for e in model_ev if e.indicator in self.taxonomy.by_id]
        indicators = indicator_scores(self.taxonomy, evidence, model_ev)
        if self.calibration is not None:
            p = float(self.calibration.apply([p], [bool(indicators)])[0])
        if self.gate and not indicators:
            # Without any asserted indicator a supplier document cannot reach review: policy, negation
            # and generic-risk language must not raise risk however much it resembles a finding.
            p = min(p, self.review * GATE_FACTOR)
        if self.scope is not None:
            # Text unlike anything the profile screens (a greeting, a classified, a notice) and without any
            # indicator scores lower, by a weight learned out of fold (ScopeCalibration).
            p = self.scope.adjust(text, p, bool(indicators))
        extra = model_ev + (self._term_evidence(text, rules, cache) if p >= self.review else [])
        return Scored(p, verdict_for(p, self.review, self.high), tuple(indicators), tuple(extra))
