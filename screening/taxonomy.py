"""Indicator taxonomies as versioned data: loading, validation and the shipped profiles."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ProfileError, TaxonomyError

SCHEMA_VERSION = 1
PROFILES: tuple[str, ...] = ("supplier", "recruitment")
CUE_KINDS: tuple[str, ...] = ("policy", "hypothetical", "negated", "remediated")
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,31}$")
_RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Source:
    """A citation for an indicator."""

    title: str
    reference: str


@dataclass(frozen=True)
class Rule:
    """A detection rule: phrases, spaCy token patterns and/or regexes, with a weight."""

    id: str
    description: str
    weight: float
    phrases: tuple[str, ...]
    patterns: tuple[tuple[dict[str, Any], ...], ...]
    regex: tuple[str, ...]


@dataclass(frozen=True)
class Example:
    """A test sentence: ``assertion`` is the expected non-asserted status, or None for no hit."""

    text: str
    assertion: str | None = None


@dataclass(frozen=True)
class Indicator:
    """One indicator of a taxonomy with its rules, sources and examples."""

    id: str
    name: str
    description: str
    weight: float
    sources: tuple[Source, ...]
    rules: tuple[Rule, ...]
    positives: tuple[str, ...]
    negatives: tuple[Example, ...]


@dataclass(frozen=True)
class CueSet:
    """Assertion cue phrases of one kind, split by where they stand relative to a hit."""

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """A validated taxonomy file."""

    name: str
    version: str
    title: str
    review_threshold: float
    high_threshold: float
    cues: dict[str, CueSet]
    terminators: tuple[str, ...]
    indicators: tuple[Indicator, ...]
    path: str
    sha256: str
    by_id: dict[str, Indicator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {i.id: i for i in self.indicators})

    def summary(self) -> dict[str, Any]:
        """Describe the taxonomy for listings and the API (no rules)."""
        return {
            "name": self.name,
            "version": self.version,
            "title": self.title,
            "indicators": [
                {
                    "id": i.id,
                    "name": i.name,
                    "description": i.description,
                    "weight": i.weight,
                    "sources": [{"title": s.title, "reference": s.reference} for s in i.sources],
                    "rules": len(i.rules),
                }
                for i in self.indicators
            ],
        }


class _Checker:
    """Collects validation context so every error names file, indicator and field."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, what: str) -> TaxonomyError:
        return TaxonomyError(f"{self.path}: {where}: {what}")

    def text(self, value: Any, where: str, *, allow_empty: bool = False) -> str:
        if not isinstance(value, str) or (not allow_empty and not value.strip()):
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def number(self, value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
            raise self.fail(where, f"expected a number between 0 and 1, got {value!r}")
        return float(value)

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of strings, got {type(value).__name__}")
        return tuple(self.text(v, f"{where}[{n}]") for n, v in enumerate(value))


def _parse_rule(c: _Checker, raw: Any, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise c.fail(where, "a rule must be a mapping")
    unknown = set(raw) - {"id", "description", "weight", "phrases", "patterns", "regex"}
    if unknown:
        raise c.fail(where, f"unknown rule keys {sorted(unknown)}")
    rid = c.text(raw.get("id"), f"{where}.id")
    if not _RULE_ID_RE.match(rid):
        raise c.fail(where, f"rule id {rid!r} must be lower-case letters, digits, '-', '_' or '.'")
    where = f"{where} ({rid})"
    phrases = c.strings(raw.get("phrases"), f"{where}.phrases")
    regex = c.strings(raw.get("regex"), f"{where}.regex")
    for rx in regex:
        try:
            re.compile(rx)
        except re.error as exc:
            raise c.fail(f"{where}.regex", f"invalid regular expression {rx!r}: {exc}") from None
    raw_patterns = raw.get("patterns") or []
    if not isinstance(raw_patterns, list) or not all(
        isinstance(p, list) and p and all(isinstance(t, dict) for t in p) for p in raw_patterns
    ):
        raise c.fail(f"{where}.patterns", "expected a list of token patterns (lists of mappings)")
    for p in raw_patterns:
        for end in (p[0], p[-1]):
            if not set(end) - {"OP"}:
                raise c.fail(f"{where}.patterns", f"a pattern must not start or end with a wildcard: {p}")
    if not (phrases or raw_patterns or regex):
        raise c.fail(where, "a rule needs at least one of phrases, patterns, regex")
    weight = c.number(raw.get("weight", 1.0), f"{where}.weight")
    return Rule(
        id=rid,
        description=c.text(raw.get("description", rid), f"{where}.description"),
        weight=weight,
        phrases=phrases,
        patterns=tuple(tuple(dict(t) for t in p) for p in raw_patterns),
        regex=regex,
    )


def _parse_indicator(c: _Checker, raw: Any, n: int) -> Indicator:
    if not isinstance(raw, dict):
        raise c.fail(f"indicators[{n}]", "an indicator must be a mapping")
    iid = c.text(raw.get("id"), f"indicators[{n}].id")
    if not _ID_RE.match(iid):
        raise c.fail(f"indicators[{n}]", f"invalid indicator id {iid!r}")
    where = f"indicator {iid}"
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list) or not sources_raw:
        raise c.fail(where, "needs at least one source (title and reference)")
    sources = []
    for k, s in enumerate(sources_raw):
        if not isinstance(s, dict):
            raise c.fail(f"{where}.sources[{k}]", "a source must be a mapping with title and reference")
        sources.append(
            Source(c.text(s.get("title"), f"{where}.sources[{k}].title"),
                   c.text(s.get("reference"), f"{where}.sources[{k}].reference"))
        )
    rules_raw = raw.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise c.fail(where, "needs at least one rule")
    rules = tuple(_parse_rule(c, r, f"{where}.rules[{k}]") for k, r in enumerate(rules_raw))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise c.fail(where, f"duplicate rule id {r.id!r}")
        seen.add(r.id)
    ex = raw.get("examples") or {}
    if not isinstance(ex, dict):
        raise c.fail(f"{where}.examples", "expected a mapping with positive and negative lists")
    positives = c.strings(ex.get("positive"), f"{where}.examples.positive")
    negatives = []
    for k, e in enumerate(ex.get("negative") or []):
        w = f"{where}.examples.negative[{k}]"
        if isinstance(e, str):
            negatives.append(Example(c.text(e, w)))
            continue
        if not isinstance(e, dict):
            raise c.fail(w, "expected a string or a mapping with text and assertion")
        status = e.get("assertion")
        if status is not None and status not in CUE_KINDS:
            raise c.fail(w, f"assertion must be one of {list(CUE_KINDS)}, got {status!r}")
        negatives.append(Example(c.text(e.get("text"), f"{w}.text"), status))
    return Indicator(
        id=iid,
        name=c.text(raw.get("name"), f"{where}.name"),
        description=" ".join(c.text(raw.get("description"), f"{where}.description").split()),
        weight=c.number(raw.get("weight"), f"{where}.weight"),
        sources=tuple(sources),
        rules=rules,
        positives=positives,
        negatives=tuple(negatives),
    )


def parse_taxonomy(data: Any, path: str, sha256: str = "") -> Taxonomy:
    """Validate parsed YAML and build a :class:`Taxonomy`, or raise :class:`TaxonomyError`."""
    c = _Checker(path)
    if not isinstance(data, dict):
        raise c.fail("top level", "expected a mapping")
    if data.get("schema") != SCHEMA_VERSION:
        raise c.fail("schema", f"expected schema: {SCHEMA_VERSION}, got {data.get('schema')!r}")
    scoring = data.get("scoring") or {}
    if not isinstance(scoring, dict):
        raise c.fail("scoring", "expected a mapping with review and high")
    review = c.number(scoring.get("review", 0.35), "scoring.review")
    high = c.number(scoring.get("high", 0.65), "scoring.high")
    if not review < high:
        raise c.fail("scoring", f"review threshold {review} must be below high threshold {high}")
    assertion = data.get("assertion") or {}
    if not isinstance(assertion, dict):
        raise c.fail("assertion", "expected a mapping of cue kinds")
    unknown = set(assertion) - {*CUE_KINDS, "terminators"}
    if unknown:
        raise c.fail("assertion", f"unknown cue kinds {sorted(unknown)}; expected {list(CUE_KINDS)}")
    cues: dict[str, CueSet] = {}
    for kind in CUE_KINDS:
        raw = assertion.get(kind) or {}
        if not isinstance(raw, dict) or set(raw) - {"before", "after"}:
            raise c.fail(f"assertion.{kind}", "expected a mapping with 'before' and/or 'after' lists")
        cues[kind] = CueSet(
            c.strings(raw.get("before"), f"assertion.{kind}.before"),
            c.strings(raw.get("after"), f"assertion.{kind}.after"),
        )
    indicators_raw = data.get("indicators")
    if not isinstance(indicators_raw, list) or not indicators_raw:
        raise c.fail("indicators", "expected a non-empty list")
    indicators = tuple(_parse_indicator(c, raw, n) for n, raw in enumerate(indicators_raw))
    ids = [i.id for i in indicators]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise c.fail("indicators", f"duplicate indicator ids {dupes}")
    return Taxonomy(
        name=c.text(data.get("name"), "name"),
        version=str(c.text(str(data.get("version", "")), "version")),
        title=c.text(data.get("title", data.get("name")), "title"),
        review_threshold=review,
        high_threshold=high,
        cues=cues,
        terminators=c.strings(assertion.get("terminators"), "assertion.terminators"),
        indicators=indicators,
        path=path,
        sha256=sha256,
    )


def load_taxonomy_file(path: str | Path, sha256: str | None = None) -> Taxonomy:
    """Load and validate a taxonomy YAML file from disk.

    With ``sha256`` (hex), a file whose bytes have another sha256 is refused before it is parsed.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{p}: cannot read taxonomy file: {exc.strerror or exc}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and not hmac.compare_digest(digest, sha256.strip().lower()):
        raise TaxonomyError(f"{p}: sha256 {digest[:12]}… does not match the expected {sha256.strip()[:12]}…; "
                            "refusing a file that may have been altered", code="taxonomy_tampered")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{p}: not valid UTF-8 YAML: {exc}") from None
    return parse_taxonomy(data, str(p), digest)


def shipped_taxonomy_path(profile: str) -> Path:
    """Path of the taxonomy shipped in the package for ``profile``."""
    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return Path(str(resources.files("screening") / "taxonomies" / f"{profile}.yaml"))


def shipped_checksums() -> dict[str, str]:
    """The sha256 of each shipped taxonomy file, from ``taxonomies/SHA256SUMS`` (``sha256sum`` format)."""
    path = Path(str(resources.files("screening") / "taxonomies" / "SHA256SUMS"))
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def load_taxonomy(profile: str) -> Taxonomy:
    """Load the taxonomy shipped for ``profile``, refusing it if it differs from ``SHA256SUMS``."""
    path = shipped_taxonomy_path(profile)
    expected = shipped_checksums().get(path.name)
    if expected is None:
        raise TaxonomyError(f"{path}: not listed in SHA256SUMS; refusing an unchecked taxonomy",
                            code="taxonomy_tampered")
    return load_taxonomy_file(path, expected)


def extend_taxonomy(base: Taxonomy, extra: Taxonomy) -> Taxonomy:
    """Merge a user's taxonomy into a shipped one: indicators with the same id are replaced.

    Cue lists are joined, so a user file can add cues without repeating the shipped ones.
    """
    merged = {i.id: i for i in base.indicators}
    merged.update({i.id: i for i in extra.indicators})
    cues = {
        k: CueSet(base.cues[k].before + extra.cues[k].before, base.cues[k].after + extra.cues[k].after)
        for k in CUE_KINDS
    }
    return Taxonomy(
        name=base.name,
        version=f"{base.version}+{extra.name}.{extra.version}",
        title=base.title,
        review_threshold=base.review_threshold,
        high_threshold=base.high_threshold,
        cues=cues,
        terminators=base.terminators + extra.terminators,
        indicators=tuple(merged.values()),
        path=f"{base.path}+{extra.path}",
        sha256=hashlib.sha256((base.sha256 + extra.sha256).encode()).hexdigest(),
    )
