"""The detector as a spaCy component: ``nlp.add_pipe("screening_indicators", config={...})``.

It writes one span per hit to ``doc.spans[spans_key]`` labelled with the indicator id, with the
rule, assertion status and cue as span extensions, so displaCy's span renderer can show them.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from .assertion import AssertionClassifier
from .detect import RuleDetector
from .nlp import LowerLemmatizer
from .taxonomy import load_taxonomy, load_taxonomy_file

for _name in ("screening_rule", "screening_assertion", "screening_cue"):
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=None)


class IndicatorComponent:
    """Find indicator hits and store them as spans with their assertion status."""

    def __init__(self, nlp: Language, profile: str, taxonomy_path: str | None, spans_key: str) -> None:
        self.taxonomy = load_taxonomy_file(taxonomy_path) if taxonomy_path else load_taxonomy(profile)
        self.detector = RuleDetector(nlp, self.taxonomy)
        self.assertion = AssertionClassifier(nlp, self.taxonomy)
        self.spans_key = spans_key
        # Rules match lower-cased lookup lemmas; set them unless the pipeline already does.
        self.lemmatize = None if "screening_lemmatizer" in nlp.pipe_names else LowerLemmatizer()

    def __call__(self, doc: Doc) -> Doc:
        """Add the indicator spans to ``doc``."""
        if self.lemmatize is not None:
            doc = self.lemmatize(doc)
        hits = self.detector.find(doc)
        spans = []
        for hit, (status, cue) in zip(hits, self.assertion.classify(doc, hits), strict=True):
            span = Span(doc, hit.start, hit.end, label=hit.indicator)
            span._.screening_rule = hit.rule
            span._.screening_assertion = status
            span._.screening_cue = None if cue is None else doc[cue[0] : cue[1]].text
            spans.append(span)
        doc.spans[self.spans_key] = spans
        return doc


@Language.factory(
    "screening_indicators",
    default_config={"profile": "supplier", "taxonomy_path": None, "spans_key": "screening"},
)
def make_indicator_component(
    nlp: Language, name: str, profile: str, taxonomy_path: str | None, spans_key: str
) -> IndicatorComponent:
    """Factory registered with spaCy (also exposed through the ``spacy_factories`` entry point)."""
    return IndicatorComponent(nlp, profile, taxonomy_path, spans_key)
