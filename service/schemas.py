"""Request and response schemas of the API, separate from the engine's result types.

Responses are built by the engine's ``to_dict()`` (the output contract, byte for byte what
``screening scan`` writes); the response models here document that contract in the OpenAPI schema
and are checked against real answers by the schemathesis test.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Profile = Literal["supplier", "recruitment"]
VerdictName = Literal["low", "review", "high"]
AssertionName = Literal["asserted", "negated", "policy", "hypothetical", "remediated", "unsupported"]

EXAMPLE_AD = ("Urgent! Factory workers needed in Malaysia. Pay a 500 USD registration fee before travel. "
              "We keep your passport for safekeeping.")
EXAMPLE_RESULT: dict[str, Any] = {
    "id": "ad-17",
    "profile": "recruitment",
    "score": 0.86,
    "verdict": "high",
    "indicators": [
        {"id": "RC01", "name": "Recruitment fees or related costs charged to the worker", "score": 0.81,
         "evidence": 1},
    ],
    "evidence": [
        {"indicator": "RC01", "rule": "RC01/pay-before-step", "start": EXAMPLE_AD.index("fee before"),
         "end": EXAMPLE_AD.index("fee before") + 17, "text": "fee before travel",
         "assertion": "asserted", "source": "rule", "weight": 0.9},
    ],
    "engine": {"version": "0.1.0", "taxonomy_version": "2026.11.0", "model": None},
    "error": None,
}


def _no_lone_surrogates(value: str | None) -> str | None:
    # JSON can carry "\ud800"; such a string cannot be written back as UTF-8, so refuse it here.
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains an unpaired surrogate; not valid Unicode text") from None
    return value


class ScreenRequest(BaseModel):
    """One document to screen, sent as JSON."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"text": EXAMPLE_AD, "profile": "recruitment", "id": "ad-17",
                                         "include_text": False}]},
    )

    text: str = Field(min_length=1, description="The document's plain text. Line endings are unified (CRLF and CR "
                      "become LF) before screening; evidence offsets refer to that text.")
    profile: Profile = Field(description="Which indicator taxonomy to apply: supplier documents or job ads.")
    id: str = Field("document", min_length=1, max_length=512, description="Your identifier, echoed in the result.")
    include_text: bool = Field(False, description="Return the screened text in the result, as `text`.")

    _check_text = field_validator("text", "id")(_no_lone_surrogates)


class BatchItem(BaseModel):
    """One document of a batch. An item that fails validation becomes that item's error record."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(min_length=1, description="The document's plain text.")
    id: str | None = Field(None, min_length=1, max_length=512,
                           description="Your identifier; defaults to the item's position, counting from 1.")

    _check_text = field_validator("text", "id")(_no_lone_surrogates)


class BatchRequest(BaseModel):
    """Several documents screened with one profile; results come back in the same order."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"profile": "recruitment", "include_text": False, "documents": [
            {"id": "ad-1", "text": EXAMPLE_AD},
            {"id": "ad-2", "text": "Warehouse assistant, permanent contract, no fees charged to applicants."},
        ]}]},
    )

    profile: Profile
    include_text: bool = False
    documents: list[BatchItem] = Field(min_length=1)


class BatchEnvelope(BaseModel):
    """What is validated of a batch as a whole; items are validated one by one (see :class:`BatchItem`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    profile: Profile
    include_text: bool = False
    documents: list[Any] = Field(min_length=1)


class UploadFields(BaseModel):
    """The form fields sent beside an uploaded file (form values are strings, so not strict)."""

    model_config = ConfigDict(extra="forbid")

    profile: Profile
    id: str | None = Field(None, min_length=1, max_length=512)
    include_text: bool = False

    _check_id = field_validator("id")(_no_lone_surrogates)


class ErrorObject(BaseModel):
    """A stable machine-readable code and a message for people."""

    model_config = ConfigDict(extra="forbid")

    code: str
    message: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"error": {"code": "invalid_field", "message": "profile: Field required"}}]})

    error: ErrorObject


class IndicatorResult(BaseModel):
    """An indicator present in a document (from asserted evidence)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    score: float
    evidence: int


class EvidenceResult(BaseModel):
    """Words that raised an indicator; ``text == document[start:end]``."""

    model_config = ConfigDict(extra="forbid")

    indicator: str
    rule: str
    start: int
    end: int
    text: str
    assertion: AssertionName
    source: Literal["rule", "model"]
    weight: float
    cue: str | None = Field(None, description="The words that made the hit not asserted (only then present).")


class EngineResult(BaseModel):
    """What produced a result: code version, taxonomy version and model (null for the rule scorer)."""

    model_config = ConfigDict(extra="forbid")

    version: str
    taxonomy_version: str
    model: str | None


class ScreenResult(BaseModel):
    """One document's result: the output contract of ``screening scan``.

    ``score`` and ``verdict`` are null, and ``error`` is set, when a document could not be screened.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_RESULT]})

    id: str
    profile: str
    score: float | None
    verdict: VerdictName | None
    indicators: list[IndicatorResult]
    evidence: list[EvidenceResult]
    engine: EngineResult
    error: ErrorObject | None
    text: str | None = Field(None, description="The screened text (only when include_text was asked for).")


class BatchResponse(BaseModel):
    """One result per document, in the order sent."""

    model_config = ConfigDict(extra="forbid")

    results: list[ScreenResult]


class SourceInfo(BaseModel):
    """A citation behind an indicator."""

    model_config = ConfigDict(extra="forbid")

    title: str
    reference: str


class IndicatorInfo(BaseModel):
    """One indicator of a taxonomy (rules are counted, not listed)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    description: str
    weight: float
    sources: list[SourceInfo]
    rules: int


class TaxonomyInfo(BaseModel):
    """A served profile's taxonomy and the engine that applies it."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    name: str
    version: str
    title: str
    engine: EngineResult
    indicators: list[IndicatorInfo]


class TaxonomyResponse(BaseModel):
    """The taxonomies of the served profiles (or of the one asked for)."""

    model_config = ConfigDict(extra="forbid")

    taxonomies: list[TaxonomyInfo]


class HealthResponse(BaseModel):
    """The process is up."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]


class ProfileReadiness(BaseModel):
    """One profile's engine: loading, ready or failed (with an error code)."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["loading", "ready", "failed"]
    model: str | None = None
    taxonomy_version: str | None = None
    error: str | None = None


class ReadyResponse(BaseModel):
    """Every configured profile is loaded."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ready"]
    profiles: dict[str, ProfileReadiness]
