"""Result types: small immutable dataclasses with character offsets into the document text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# ``unsupported``: a rule hit in an asserted sentence that the backend's indicator model does not support
# (transformer backend with a tagger, see screening.transformer.tagger); shown, not counted.
Assertion = Literal["asserted", "negated", "policy", "hypothetical", "remediated", "unsupported"]
ASSERTIONS: tuple[str, ...] = ("asserted", "negated", "policy", "hypothetical", "remediated", "unsupported")
Verdict = Literal["low", "review", "high"]
VERDICTS: tuple[str, ...] = ("low", "review", "high")


@dataclass(frozen=True)
class Evidence:
    """One span of text that raised (or, when not asserted, would have raised) an indicator.

    ``text[start:end] == evidence.text`` always holds for the document text it refers to.
    ``cue`` explains the evidence: for rule evidence, the assertion cue that set a non-asserted status;
    for semantic evidence (``rule`` ``semantic/<ID>``), the nearest prototype sentence, whatever the status;
    for ``unsupported`` rule evidence, the model score that fell short.
    """

    indicator: str
    rule: str
    start: int
    end: int
    text: str
    assertion: str = "asserted"
    source: str = "rule"
    weight: float = 1.0
    cue: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise to the output contract."""
        d: dict[str, Any] = {
            "indicator": self.indicator,
            "rule": self.rule,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "assertion": self.assertion,
            "source": self.source,
            "weight": round(self.weight, 4),
        }
        if self.cue is not None:
            d["cue"] = self.cue
        return d


@dataclass(frozen=True)
class IndicatorScore:
    """An indicator found in a document, from asserted evidence only."""

    id: str
    name: str
    score: float
    evidence: int

    def to_dict(self) -> dict[str, Any]:
        """Serialise to the output contract."""
        return {"id": self.id, "name": self.name, "score": round(self.score, 4), "evidence": self.evidence}


@dataclass(frozen=True)
class EngineInfo:
    """What produced a result, so a figure can be traced to code, taxonomy and model."""

    version: str
    taxonomy_version: str
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Serialise to the output contract."""
        return {"version": self.version, "taxonomy_version": self.taxonomy_version, "model": self.model}


@dataclass(frozen=True)
class ScreeningResult:
    """The screening result of one document: score, verdict, indicators and evidence."""

    id: str
    profile: str
    score: float | None
    verdict: str | None
    indicators: tuple[IndicatorScore, ...]
    evidence: tuple[Evidence, ...]
    engine: EngineInfo
    text: str | None = None
    error: dict[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def asserted(self) -> tuple[Evidence, ...]:
        """Evidence that counts toward the score."""
        return tuple(e for e in self.evidence if e.assertion == "asserted")

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        """Serialise to the output contract (document text only when asked for)."""
        d: dict[str, Any] = {
            "id": self.id,
            "profile": self.profile,
            "score": None if self.score is None else round(self.score, 4),
            "verdict": self.verdict,
            "indicators": [i.to_dict() for i in self.indicators],
            "evidence": [e.to_dict() for e in self.evidence],
            "engine": self.engine.to_dict(),
            "error": self.error,
        }
        if include_text and self.text is not None:
            d["text"] = self.text
        return d


def error_result(doc_id: str, profile: str, engine: EngineInfo, code: str, message: str) -> ScreeningResult:
    """Build the record written for a document that could not be screened.

    Score and verdict are ``None``: an unread document is neither clean nor flagged.
    """
    return ScreeningResult(
        id=doc_id,
        profile=profile,
        score=None,
        verdict=None,
        indicators=(),
        evidence=(),
        engine=engine,
        error={"code": code, "message": message},
    )
