"""The engine wires the stages: text -> detect (rules + assertion) -> score -> result.

One Engine per profile holds the spaCy pipeline, the compiled matchers and the scorer; build it
once and reuse it. The CLI, the service and batch runs are thin shells around it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from . import __version__
from .assertion import AssertionClassifier
from .detect import RuleDetector
from .errors import DocumentTimeoutError, DocumentTooLargeError, ScreeningError
from .ingest import Document, clean_id
from .nlp import BLANK, build_nlp
from .results import EngineInfo, Evidence, ScreeningResult, error_result
from .scoring import RuleScorer, Scorer
from .sentences import Sentence
from .settings import get_settings
from .taxonomy import PROFILES, Taxonomy, extend_taxonomy, load_taxonomy, load_taxonomy_file

log = logging.getLogger(__name__)

# spaCy works on bounded pieces; long documents are cut at line breaks (or spaces) into chunks.
CHUNK_CHARS = 100_000


def split_chunks(text: str, size: int = CHUNK_CHARS) -> list[tuple[int, str]]:
    """Cut ``text`` into ``(offset, piece)`` chunks of at most ``size`` characters at natural breaks."""
    if len(text) <= size:
        return [(0, text)]
    chunks = []
    start = 0
    n = len(text)
    while start < n:
        end = min(start + size, n)
        if end < n:
            window = text[start:end]
            cut = -1
            for sep in ("\n\n", "\n", ". ", " "):
                cut = window.rfind(sep, size // 2)
                if cut != -1:
                    cut += len(sep)
                    break
            if cut > 0:
                end = start + cut
        chunks.append((start, text[start:end]))
        start = end
    return chunks


# spaCy's vocabulary keeps a little memory for every new word form it has seen, even inside memory zones
# (bare ``spacy.blank("en")``: about 33 MB per million short documents with new numbers). Every
# ``RENEW_CHECK_EVERY`` documents the engine looks at the vocabulary's count of lexemes ever made and, above
# ``RENEW_LEXEMES``, rebuilds its spaCy pipeline and rule matchers (under a second); results do not change.
RENEW_CHECK_EVERY = 10_000
RENEW_LEXEMES = 500_000


@dataclass(frozen=True)
class _Pipeline:
    """The spaCy-bound parts of an engine, replaced together when the vocabulary is renewed."""

    nlp: Language
    detector: RuleDetector
    assertion: AssertionClassifier


class Engine:
    """Screen texts for one profile's indicators and score them."""

    def __init__(
        self,
        profile: str = "supplier",
        *,
        taxonomy: str | Path | Taxonomy | None = None,
        replace_taxonomy: bool = False,
        scorer: Scorer | None = None,
        pipeline: str = BLANK,
        taxonomy_sha256: str | None = None,
    ) -> None:
        if profile not in PROFILES and taxonomy is None:
            from .errors import ProfileError

            raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        self.profile = profile
        self.taxonomy = self._taxonomy(profile, taxonomy, replace_taxonomy, taxonomy_sha256)
        self.pipeline = pipeline
        self._warm_words: list[str] = []
        self._pipe = self._build_pipeline()
        self._screened = 0
        self.renew_lexemes = RENEW_LEXEMES
        self.scorer: Scorer = scorer if scorer is not None else RuleScorer(self.taxonomy)
        self.info = EngineInfo(__version__, self.taxonomy.version, self.scorer.name)
        settings = get_settings()
        self.max_chars = settings.max_chars
        self.max_seconds = settings.max_seconds

    @staticmethod
    def _taxonomy(profile: str, taxonomy: str | Path | Taxonomy | None, replace: bool,
                  sha256: str | None) -> Taxonomy:
        if taxonomy is None:
            return load_taxonomy(profile)
        user = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy_file(taxonomy, sha256)
        if replace or profile not in PROFILES:
            return user
        return extend_taxonomy(load_taxonomy(profile), user)

    def _build_pipeline(self) -> _Pipeline:
        nlp = build_nlp(self.pipeline)
        pipe = _Pipeline(nlp, RuleDetector(nlp, self.taxonomy), AssertionClassifier(nlp, self.taxonomy))
        self._warm_pipeline(pipe, self._warm_words)
        return pipe

    @property
    def nlp(self) -> Language:
        """The spaCy pipeline in use (replaced when the vocabulary is renewed)."""
        return self._pipe.nlp

    @property
    def detector(self) -> RuleDetector:
        """The rule detector in use."""
        return self._pipe.detector

    @property
    def assertion(self) -> AssertionClassifier:
        """The assertion classifier in use."""
        return self._pipe.assertion

    def renew(self) -> None:
        """Rebuild the spaCy pipeline and rule matchers, dropping what the vocabulary kept of past documents."""
        self._pipe = self._build_pipeline()

    def _after_document(self, pipe: _Pipeline) -> None:
        self._screened += 1
        if self._screened % RENEW_CHECK_EVERY == 0 and pipe is self._pipe and len(pipe.nlp.vocab) > self.renew_lexemes:
            log.info("renewing the spaCy vocabulary after %d documents", self._screened)
            self.renew()

    @staticmethod
    def _warm_pipeline(pipe: _Pipeline, forms: list[str]) -> None:
        for n in range(0, len(forms), 10_000):
            pipe.nlp.make_doc(" ".join(forms[n : n + 10_000]))

    def warm(self, words: Iterable[str]) -> None:
        """Make ``words`` (as written and capitalised) permanent in the pipeline's vocabulary and tokeniser cache.

        Each document is screened inside a memory zone, which frees the lexemes and tokeniser cache entries it
        added, so every document rebuilt them for its common words. Tokens and their attributes are the same
        either way; this only saves the rebuilding (a fixed list, so memory stays bounded).
        """
        forms = list(words)
        forms += [w.capitalize() for w in forms]
        self._warm_words += forms
        self._warm_pipeline(self._pipe, forms)

    def set_scorer(self, scorer: Scorer) -> None:
        """Replace the scoring stage (a trained model) without touching detection."""
        self.scorer = scorer
        self.info = EngineInfo(__version__, self.taxonomy.version, scorer.name)

    def _sentences(self, pipe: _Pipeline, doc: Doc, offset: int, cues: Any) -> list[Sentence]:
        out = []
        for start, end, frame in pipe.assertion.sentence_frames(doc, cues):
            sent = doc[start:end]
            text = sent.text
            if not text.strip() or not any(ch.isalnum() for ch in text):
                continue
            a = sent.start_char + (len(text) - len(text.lstrip()))
            b = sent.end_char - (len(text) - len(text.rstrip()))
            out.append(Sentence(offset + a, offset + b, frame))
        return out

    def _doc_evidence(self, pipe: _Pipeline, doc: Doc, offset: int, cues: Any) -> list[Evidence]:
        hits = pipe.detector.find(doc)
        statuses = pipe.assertion.classify(doc, hits, cues)
        out = []
        for hit, (status, cue) in zip(hits, statuses, strict=True):
            span = doc[hit.start : hit.end]
            out.append(
                Evidence(
                    indicator=hit.indicator,
                    rule=hit.rule,
                    start=offset + span.start_char,
                    end=offset + span.end_char,
                    text=span.text,
                    assertion=status,
                    source="rule",
                    weight=hit.weight,
                    cue=None if cue is None else doc[cue[0] : cue[1]].text,
                )
            )
        return out

    def analyse(self, text: str, *, sentences: bool = False,
                deadline: float | None = None) -> tuple[tuple[Evidence, ...], list[Sentence]]:
        """Rule evidence with assertion status (and, if asked, sentences with their frames).

        ``deadline`` (a ``time.monotonic()`` value) is checked between chunks. The strings spaCy adds to
        its vocabulary for this text are freed afterwards (a memory zone), so a long-running process does
        not grow with every new word it reads; nothing spaCy-owned is kept past the zone.
        """
        evidence: list[Evidence] = []
        sents: list[Sentence] = []
        chunks = split_chunks(text)
        pipe = self._pipe  # one pipeline for the whole text, even if another thread renews it meanwhile
        with pipe.nlp.memory_zone():
            for (offset, _), doc in zip(chunks, pipe.nlp.pipe(c for _, c in chunks), strict=True):
                if deadline is not None and time.monotonic() > deadline:
                    raise DocumentTimeoutError("screening the document took too long (setting max_seconds)")
                cues = pipe.assertion.cues(doc)
                evidence.extend(self._doc_evidence(pipe, doc, offset, cues))
                if sentences:
                    sents.extend(self._sentences(pipe, doc, offset, cues))
        self._after_document(pipe)
        return tuple(evidence), sents

    def detect(self, text: str) -> tuple[Evidence, ...]:
        """Rule evidence with assertion status for ``text``, in document order."""
        return self.analyse(text)[0]

    def screen(self, text: str, id: str = "document", *, include_text: bool = False) -> ScreeningResult:
        """Screen one text and return its result (raises :class:`ScreeningError` on bad input)."""
        if not isinstance(text, str):
            raise ScreeningError(f"text must be a string, got {type(text).__name__}", code="invalid_text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ScreeningError("text holds lone surrogate code points; it is not valid Unicode text",
                                 code="invalid_text") from None
        if len(text) > self.max_chars:
            raise DocumentTooLargeError(
                f"text is {len(text)} characters; the limit is {self.max_chars} (setting max_chars)")
        needs_sentences = getattr(self.scorer, "needs_sentences", False)
        deadline = time.monotonic() + self.max_seconds
        evidence, sentences = self.analyse(text, sentences=needs_sentences, deadline=deadline)
        scored = self.scorer.score(text, evidence, sentences)
        rules = evidence if scored.rules is None else scored.rules
        all_evidence = tuple(sorted(rules + scored.evidence, key=lambda e: (e.start, e.end, e.indicator)))
        return ScreeningResult(
            id=clean_id(id),
            profile=self.profile,
            score=scored.score,
            verdict=scored.verdict,
            indicators=scored.indicators,
            evidence=all_evidence,
            engine=self.info,
            text=text if include_text else None,
        )

    def screen_document(self, doc: Document, *, include_text: bool = False) -> ScreeningResult:
        """Screen an ingested document; a failed read or screen becomes an error record."""
        if doc.error is not None:
            return error_result(doc.id, self.profile, self.info, doc.error.code, doc.error.message)
        try:
            return self.screen(doc.text, doc.id, include_text=include_text)
        except ScreeningError as exc:
            return error_result(doc.id, self.profile, self.info, exc.code, exc.message)
        except (ValueError, MemoryError, RecursionError) as exc:
            log.warning("document %s failed: %s", doc.id, exc.__class__.__name__)
            return error_result(doc.id, self.profile, self.info, "internal", exc.__class__.__name__)

    def screen_documents(self, docs: Iterable[Document], *, include_text: bool = False) -> Iterator[ScreeningResult]:
        """Screen documents lazily, in input order."""
        for doc in docs:
            yield self.screen_document(doc, include_text=include_text)


_ENGINES: dict[str, Engine] = {}


def get_engine(profile: str) -> Engine:
    """The shared default engine of a profile (rules + shipped model), built on first use."""
    engine = _ENGINES.get(profile)
    if engine is None:
        from .models.loading import default_engine

        engine = _ENGINES[profile] = default_engine(profile)
    return engine


def screen(text: str, profile: str = "supplier", *, id: str = "document", include_text: bool = False) -> ScreeningResult:
    """Screen one text with the shared engine of ``profile`` (built once, reused across calls)."""
    return get_engine(profile).screen(text, id, include_text=include_text)
